import Foundation
import Testing
import Sampling
@testable import TreeRPO

/// The per-step diagnostics of `metrics.jsonl`: groups by depth with their ties, and the
/// per-line slip rate of computation lines, on cases worked by hand.
@Suite struct StepDiagnosticsTests {
    /// AdvantageTests.treeA: root {a, b} (values 0.5, 0) kept; a {1, 0} kept; b {0, 0} a tie.
    /// Depth of each group's parent: root 0, a and b 1. So per depth: groups [1, 2], kept
    /// [1, 1], ties [0, 1].
    @Test func groupsByDepthWithTies() throws {
        var trees = [AdvantageTests.treeA().0]
        let stats = try Advantages.compute(&trees, config: AdvantageConfig(normalization: .group))
        #expect(stats.groupsPerDepth == [1, 2])
        #expect(stats.groupsKeptPerDepth == [1, 1])
        #expect(stats.groupsTiedPerDepth == [0, 1])
        #expect(stats.groupsPerDepth.reduce(0, +) == stats.groups)
        #expect(stats.groupsKeptPerDepth.reduce(0, +) == stats.groupsKept)

        // tau 0 keeps the tie (zero advantages) and still counts it as a tie.
        var plain = [AdvantageTests.treeA().0]
        let p = try Advantages.compute(&plain, config: AdvantageConfig(normalization: .group, tau: 0, pruneUniformTrees: false))
        #expect(p.groupsKeptPerDepth == [1, 2] && p.groupsTiedPerDepth == [0, 1])
    }

    /// A pruned tree (all leaves 0) counts its groups by depth but neither kept nor tied.
    @Test func prunedTreesHaveNoTies() throws {
        var t = RolloutTree(question: "q", reference: "1", promptTokens: [1])
        let a = t.addChild(of: 0, tokens: [2], logProbs: [-1], finishReason: .stepLength)
        t.addChild(of: 0, tokens: [3], logProbs: [-1], finishReason: .eos, reward: 0)
        t.addChild(of: a, tokens: [4], logProbs: [-1], finishReason: .eos, reward: 0)
        t.addChild(of: a, tokens: [5], logProbs: [-1], finishReason: .eos, reward: 0)
        var trees = [t]
        let stats = try Advantages.compute(&trees, config: AdvantageConfig())
        #expect(stats.groupsPerDepth == [1, 1] && stats.groupsKeptPerDepth == [0, 0] && stats.groupsTiedPerDepth == [0, 0])
    }

    /// 12 + 7 = 19 right; 19 * 3 = 56 wrong (57); 56 / 8 = 7 right; 57 - 60 = -3 right;
    /// 7 / 2 = 3 wrong (not exact); "The answer is 7." and a malformed step are not counted.
    @Test func slipRateCountsWrongComputations() {
        let text = """
        Step 1: 12 + 7 = 19
        Step 2: 19 * 3 = 56
        Step 3: 56 / 8 = 7
        Step 4: 57 - 60 = -3
        Step 5: 7 / 2 = 3
        Step 6: 7 + = 9
        The answer is 7.
        """
        #expect(StepLineCheck.tally(text) == StepLineTally(lines: 5, slips: 2))
        #expect(StepLineCheck.tally("The answer is 5.") == StepLineTally())
        #expect(StepLineCheck.tally("Step 1: 4 / 0 = 0") == StepLineTally(lines: 1, slips: 1))
        #expect(StepLineCheck.tally("Step 1: 9223372036854775807 + 1 = 0") == StepLineTally(lines: 1, slips: 1))
    }

    /// Every solution the arithmetic task writes has one right computation line per step.
    @Test func taskSolutionsHaveNoSlips() throws {
        let problems = try ArithmeticTask().generate(count: 200, seed: 11)
        for p in problems {
            #expect(StepLineCheck.tally(p.solution) == StepLineTally(lines: p.steps.count, slips: 0), "\(p.solution)")
        }
    }

    /// Two steps: groups [4, 8] kept [2, 2] tied [0, 2], then [4, 8] kept [1, 4] tied [1, 1].
    /// Kept by depth: 3/8 and 6/16; ties 4/24. Lines 10 (2 slips), then 20 (1 slip): with a
    /// window of 1, first 20%, last 5%; the report draws a slip panel (4 polylines more).
    @Test func reportSummariesByHand() throws {
        var a = StepMetrics(step: 0), b = StepMetrics(step: 1)
        a.groupsPerDepth = [4, 8]; a.groupsKeptPerDepth = [2, 2]; a.groupsTiedPerDepth = [0, 2]
        b.groupsPerDepth = [4, 8]; b.groupsKeptPerDepth = [1, 4]; b.groupsTiedPerDepth = [1, 1]
        a.stepLines = 10; a.stepLineSlips = 2
        b.stepLines = 20; b.stepLineSlips = 1
        let share = try #require(RunReport.keptShareByDepth([a, b]))
        #expect(share.kept == [3.0 / 8, 6.0 / 16] && abs(share.tied - 4.0 / 24) < 1e-12)
        let slips = try #require(RunReport.slipRateFirstLast([a, b], window: 1))
        #expect(slips.first == 0.2 && slips.last == 0.05)
        // Metrics written before these counts existed have nothing to summarise.
        #expect(RunReport.keptShareByDepth([StepMetrics(step: 0)]).map { _ in true } == nil)
        #expect(RunReport.slipRateFirstLast([StepMetrics(step: 0)]).map { _ in true } == nil)

        let svg = RunReport.svg([.init(name: "r", metrics: [a, b])])
        #expect(svg.contains("per-line slip rate"))
        // Reward, length and slips: 2 points each (no smoothing), 3 panels x 2 x-axes.
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 6)
    }
}
