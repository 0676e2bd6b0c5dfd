import Foundation
import Sampling
import Testing
@testable import TreeRPO

/// The GRPO presets set what their names say, and tables name a run's method from its settings.
@Suite struct PresetTests {
    @Test func presetsSetAlgorithmAndFilters() {
        var c = TrainingConfig()
        c.apply(.grpoPlain)
        #expect(c.algorithm == .grpo && c.advantages.tau == 0 && !c.advantages.pruneUniformTrees)
        #expect(c.methodName == "GRPO (plain)")
        c.apply(.grpoFiltered)
        #expect(c.algorithm == .grpo && c.advantages.tau == 0.1 && c.advantages.pruneUniformTrees)
        #expect(c.methodName == "GRPO (filtered)")
        c.apply(.treerpo)
        #expect(c.algorithm == .treerpo && c.methodName == "TreeRPO")
    }

    /// `--algorithm grpo` alone keeps the default filters: it is the filtered preset, and says so;
    /// settings that match no preset are spelt out.
    @Test func methodNameFollowsTheSettings() {
        var c = TrainingConfig()
        c.algorithm = .grpo
        #expect(c.methodName == "GRPO (filtered)")
        c.advantages.tau = 0
        #expect(c.methodName == "GRPO (tau 0.0, pruning)")
        c.algorithm = .treerpo
        c.advantages.pruneUniformTrees = false
        #expect(c.methodName == "TreeRPO (tau 0.0, no pruning)")
    }

    /// Plain GRPO keeps a group whose answers all agree (advantage 0, tokens in the loss);
    /// filtered GRPO drops it.
    @Test func plainGRPOTrainsUniformGroups() throws {
        func tree() -> RolloutTree {
            var t = RolloutTree(promptTokens: [1])
            for _ in 0..<2 { t.addChild(of: 0, tokens: [2, 3], logProbs: [-1, -1], finishReason: .eos, reward: 1) }
            return t
        }
        var plain = TrainingConfig(), filtered = TrainingConfig()
        plain.apply(.grpoPlain)
        filtered.apply(.grpoFiltered)
        var a = [tree()], b = [tree()]
        let kept = try Advantages.compute(&a, config: plain.advantages)
        let dropped = try Advantages.compute(&b, config: filtered.advantages)
        #expect(kept.groupsKept == 1 && TreePacking.lossTokenCount(of: a[0]) == 4)
        #expect(a[0].leaves.allSatisfy { a[0][$0].advantage == 0 })
        #expect(dropped.groupsKept == 0 && TreePacking.lossTokenCount(of: b[0]) == 0)
    }
}
