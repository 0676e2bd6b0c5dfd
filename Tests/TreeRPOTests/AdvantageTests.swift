import Foundation
import Testing
import Sampling
@testable import TreeRPO

/// Values and advantages on small trees worked out by hand (arithmetic in the comments).
@Suite struct AdvantageTests {
    /// root -> a, b;  a -> a1 (r 1), a2 (r 0);  b -> b1 (r 0), b2 (r 0).
    /// Values: a = (1 + 0) / 2 = 0.5, b = 0, root = 0.25.
    /// Groups: root {a, b} spread 0.5 kept; a {a1, a2} spread 1 kept; b {b1, b2} spread 0 dropped.
    static func treeA() -> (RolloutTree, a: Int, b: Int, a1: Int, a2: Int, b1: Int, b2: Int) {
        var t = RolloutTree(question: "q", reference: "1", promptTokens: [1, 2])
        let a = t.addChild(of: 0, tokens: [10, 11], logProbs: [-0.1, -0.2], finishReason: .stepLength)
        let b = t.addChild(of: 0, tokens: [12, 13], logProbs: [-0.3, -0.4], finishReason: .stepLength)
        let a1 = t.addChild(of: a, tokens: [20], logProbs: [-1], finishReason: .eos, reward: 1)
        let a2 = t.addChild(of: a, tokens: [21], logProbs: [-1], finishReason: .eos, reward: 0)
        let b1 = t.addChild(of: b, tokens: [22], logProbs: [-1], finishReason: .eos, reward: 0)
        let b2 = t.addChild(of: b, tokens: [23, 24, 25], logProbs: [-1, -1, -1], finishReason: .budget, reward: 0)
        return (t, a, b, a1, a2, b1, b2)
    }

    func expectNear(_ x: Double?, _ y: Double, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        guard let x else {
            Issue.record("\(what): no advantage, expected \(y)", sourceLocation: sourceLocation)
            return
        }
        #expect(abs(x - y) <= 1e-9, "\(what): \(x), expected \(y)", sourceLocation: sourceLocation)
    }

    func run(_ trees: [RolloutTree], _ config: AdvantageConfig) throws -> ([RolloutTree], AdvantageStats) {
        var trees = trees
        let stats = try Advantages.compute(&trees, config: config)
        return (trees, stats)
    }

    @Test func treeStructure() {
        let (t, a, _, a1, _, _, b2) = Self.treeA()
        #expect(t.leaves == [3, 4, 5, 6])
        #expect(t.innerNodes == [0, 1, 2])
        #expect(t.path(to: a1) == [a, a1])
        #expect(t.responseTokens(to: b2) == [12, 13, 23, 24, 25])
        #expect(t[a1].depth == 2 && t.maxDepth == 2)
        #expect(t.stepTokenCount == 10)
        #expect(t.validationErrors().isEmpty)
        var bad = t
        bad.addChild(of: a1, tokens: [1], logProbs: [0])  // new leaf with no reward
        #expect(bad.validationErrors() == ["leaf 7: no reward"])
    }

    @Test func valuesAreMeansOfChildren() throws {
        let (t, a, b, _, _, _, _) = Self.treeA()
        let (out, _) = try run([t], AdvantageConfig(normalization: .none))
        #expect(out[0][a].value == 0.5 && out[0][b].value == 0 && out[0][0].value == 0.25)
    }

    @Test func noneIsMeanCentred() throws {
        let (t, a, b, a1, a2, b1, b2) = Self.treeA()
        let (out, stats) = try run([t], AdvantageConfig(normalization: .none))
        let n = out[0]
        expectNear(n[a].advantage, 0.25, "a = 0.5 - 0.25")
        expectNear(n[b].advantage, -0.25, "b = 0 - 0.25")
        expectNear(n[a1].advantage, 0.5, "a1 = 1 - 0.5")
        expectNear(n[a2].advantage, -0.5, "a2 = 0 - 0.5")
        #expect(n[b1].advantage == nil && n[b2].advantage == nil && n[0].advantage == nil)
        #expect(stats.groups == 3 && stats.groupsKept == 2 && stats.groupsBelowTau == 1)
        #expect(stats.nodesWithAdvantage == 4 && stats.tokensWithAdvantage == 6)  // a 2, b 2, a1 1, a2 1
        #expect(stats.leaves == 4 && stats.meanLeafReward == 0.25 && stats.treesPruned == 0)
        #expect(abs(stats.meanAbsAdvantage - 0.375) < 1e-12)  // (0.25 + 0.25 + 0.5 + 0.5) / 4
    }

    @Test func groupSampleStd() throws {
        // root group (0.5, 0): mean 0.25, sample std sqrt((0.0625 + 0.0625) / 1) = 0.35355339
        //   -> a = 0.25 / 0.35355339 = 0.70710678
        // a group (1, 0): mean 0.5, sample std sqrt(0.5) = 0.70710678 -> a1 = 0.5 / 0.7071 = 0.70710678
        let (t, a, b, a1, a2, _, _) = Self.treeA()
        let (out, _) = try run([t], AdvantageConfig(normalization: .group, epsilon: 0))
        let r = 0.5.squareRoot()
        expectNear(out[0][a].advantage, r, "a")
        expectNear(out[0][b].advantage, -r, "b")
        expectNear(out[0][a1].advantage, r, "a1")
        expectNear(out[0][a2].advantage, -r, "a2")
    }

    @Test func groupPopulationStdAndEpsilon() throws {
        // Population std: root group 0.25 -> +-1; a group 0.5 -> +-1.
        let (t, a, _, a1, _, _, _) = Self.treeA()
        let (out, _) = try run([t], AdvantageConfig(normalization: .group, epsilon: 0, unbiasedStd: false))
        expectNear(out[0][a].advantage, 1, "a")
        expectNear(out[0][a1].advantage, 1, "a1")
        // With eps 1e-4: a1 = 0.5 / (0.5 + 1e-4) = 0.99980004
        let (eps, _) = try run([t], AdvantageConfig(normalization: .group, epsilon: 1e-4, unbiasedStd: false))
        expectNear(eps[0][a1].advantage, 0.5 / 0.5001, "a1 with eps")
    }

    @Test func treeStd() throws {
        // Non-root values: a .5, b 0, a1 1, a2 0, b1 0, b2 0; mean 1.5 / 6 = 0.25.
        // Squared deviations: 0.0625 * 5 + 0.5625 = 0.875; sample variance 0.875 / 5 = 0.175;
        // std 0.41833001 -> a = 0.25 / 0.41833 = 0.59761430, a1 = 0.5 / 0.41833 = 1.19522861.
        let (t, a, b, a1, a2, _, _) = Self.treeA()
        let (out, _) = try run([t], AdvantageConfig(normalization: .tree, epsilon: 0))
        expectNear(out[0][a].advantage, 0.59761430466719, "a")
        expectNear(out[0][b].advantage, -0.59761430466719, "b")
        expectNear(out[0][a1].advantage, 1.19522860933439, "a1")
        expectNear(out[0][a2].advantage, -1.19522860933439, "a2")
    }

    @Test func batchStdOneTree() throws {
        // Centred values of kept groups: +.25, -.25 (root), +.5, -.5 (a); mean 0;
        // squares .0625 * 2 + .25 * 2 = 0.625; sample variance 0.625 / 3; std 0.45643546
        // -> a = 0.25 / 0.45643546 = 0.54772256, a1 = 0.5 / 0.45643546 = 1.09544512.
        let (t, a, _, a1, _, _, _) = Self.treeA()
        let (out, _) = try run([t], AdvantageConfig(normalization: .batch, epsilon: 0))
        expectNear(out[0][a].advantage, 0.54772255750517, "a")
        expectNear(out[0][a1].advantage, 1.09544511501033, "a1")
    }

    @Test func batchStdTwoTrees() throws {
        // Tree A plus a depth-1 tree with leaves (1, 1, 0, 0): centred +-.5 each.
        // Pooled centred: .25, -.25, .5, -.5, .5, .5, -.5, -.5; squares 2 * .0625 + 6 * .25 = 1.625;
        // sample variance 1.625 / 7 = 0.23214286; std 0.48181206
        // -> a = .25 / .48181206 = 0.51887452; a1 and the first flat leaf = .5 / .48181206 = 1.03774904.
        let (t, a, _, a1, _, _, _) = Self.treeA()
        var flat = RolloutTree()
        for r in [1.0, 1, 0, 0] { flat.addChild(of: 0, tokens: [5], logProbs: [0], finishReason: .eos, reward: r) }
        let (out, stats) = try run([t, flat], AdvantageConfig(normalization: .batch, epsilon: 0))
        expectNear(out[0][a].advantage, 0.51887452166277, "a")
        expectNear(out[0][a1].advantage, 1.03774904332554, "a1")
        expectNear(out[1][1].advantage, 1.03774904332554, "flat leaf 1")
        expectNear(out[1][4].advantage, -1.03774904332554, "flat leaf 4")
        #expect(stats.trees == 2 && stats.groups == 4 && stats.groupsKept == 3)
    }

    /// root -> u, v;  u -> u1 (r 1), u2 (r 0.75);  v -> v1 (r 1), v2 (r 0).
    /// u = 0.875, v = 0.5; root group spread 0.375, u group 0.25, v group 1.
    static func treeTau() -> RolloutTree {
        var t = RolloutTree()
        let u = t.addChild(of: 0, finishReason: .stepLength)
        let v = t.addChild(of: 0, finishReason: .stepLength)
        t.addChild(of: u, finishReason: .eos, reward: 1)
        t.addChild(of: u, finishReason: .eos, reward: 0.75)
        t.addChild(of: v, finishReason: .eos, reward: 1)
        t.addChild(of: v, finishReason: .eos, reward: 0)
        return t
    }

    @Test func tauFiltering() throws {
        // tau 0.3: u group (spread 0.25) dropped; root (0.375) and v (1) kept.
        // none: u = .875 - .6875 = .1875, v = -.1875, v1 = .5, v2 = -.5.
        let (drop, s1) = try run([Self.treeTau()], AdvantageConfig(normalization: .none, tau: 0.3))
        expectNear(drop[0][1].advantage, 0.1875, "u")
        expectNear(drop[0][2].advantage, -0.1875, "v")
        #expect(drop[0][3].advantage == nil && drop[0][4].advantage == nil)
        expectNear(drop[0][5].advantage, 0.5, "v1")
        #expect(s1.groupsBelowTau == 1 && s1.groupsKept == 2)
        // tau 0.25: a spread equal to tau is kept (only strictly below is dropped):
        // u1 = 1 - .875 = .125, u2 = -.125.
        let (keep, s2) = try run([Self.treeTau()], AdvantageConfig(normalization: .none, tau: 0.25))
        expectNear(keep[0][3].advantage, 0.125, "u1")
        expectNear(keep[0][4].advantage, -0.125, "u2")
        #expect(s2.groupsBelowTau == 0 && s2.groupsKept == 3)
        // tau 0.5: only v (spread 1) survives.
        let (_, s3) = try run([Self.treeTau()], AdvantageConfig(normalization: .none, tau: 0.5))
        #expect(s3.groupsKept == 1 && s3.groupsBelowTau == 2)
    }

    @Test func uniformTreesArePruned() throws {
        // All leaves wrong: root -> a (-> a1 0, a2 0), b (leaf 0). Two groups, both pruned.
        var wrong = RolloutTree()
        let a = wrong.addChild(of: 0, finishReason: .stepLength)
        wrong.addChild(of: 0, finishReason: .eos, reward: 0)
        wrong.addChild(of: a, finishReason: .eos, reward: 0)
        wrong.addChild(of: a, finishReason: .eos, reward: 0)
        // All leaves right, depth 1.
        var right = RolloutTree()
        for _ in 0..<3 { right.addChild(of: 0, finishReason: .eos, reward: 1) }
        let (t, _, _, a1, _, _, _) = Self.treeA()
        let (out, stats) = try run([wrong, right, t], AdvantageConfig(normalization: .none, tau: 0))
        #expect(stats.treesPruned == 2 && stats.groupsInPrunedTrees == 3)
        #expect(out[0].nodes.allSatisfy { $0.advantage == nil } && out[1].nodes.allSatisfy { $0.advantage == nil })
        expectNear(out[2][a1].advantage, 0.5, "the mixed tree is untouched")
        // tau 0 keeps b's zero-spread group in the mixed tree: 3 kept there.
        #expect(stats.groupsKept == 3 && stats.groups == 6)
        // Pruning off, tau 0: uniform groups are kept with zero advantages.
        let (kept, s2) = try run([wrong], AdvantageConfig(normalization: .none, tau: 0, pruneUniformTrees: false))
        #expect(s2.treesPruned == 0 && s2.groupsKept == 2)
        #expect(kept[0].nodes.dropFirst().allSatisfy { $0.advantage == 0 })
    }

    @Test func singleChildGroupsAreDropped() throws {
        var t = RolloutTree()
        let a = t.addChild(of: 0, finishReason: .stepLength)
        t.addChild(of: a, finishReason: .eos, reward: 1)
        t.addChild(of: 0, finishReason: .eos, reward: 0)
        // root {a (1), leaf (0)} kept; a {one child} dropped as single.
        let (out, stats) = try run([t], AdvantageConfig(normalization: .none))
        #expect(stats.groupsSingleChild == 1 && stats.groupsKept == 1)
        #expect(out[0][2].advantage == nil)
        expectNear(out[0][1].advantage, 0.5, "a")
    }

    /// root -> a, b;  a -> a1 (r 1), a2;  a2 -> a21, a22, a23 (r 0 each);  b -> b1 (r 1), b2 (r 0).
    @Test func descendantLeavesValues() throws {
        var t = RolloutTree()
        let a = t.addChild(of: 0, finishReason: .stepLength)
        let b = t.addChild(of: 0, finishReason: .stepLength)
        let a1 = t.addChild(of: a, finishReason: .eos, reward: 1)
        let a2 = t.addChild(of: a, finishReason: .stepLength)
        for _ in 0..<3 { t.addChild(of: a2, finishReason: .eos, reward: 0) }
        t.addChild(of: b, finishReason: .eos, reward: 1)
        t.addChild(of: b, finishReason: .eos, reward: 0)
        // children: a2 = 0, a = (1 + 0) / 2 = .5, b = .5, root = .5; root group spread 0 -> dropped.
        let (c, sc) = try run([t], AdvantageConfig(normalization: .none))
        #expect(c[0][a].value == 0.5 && c[0][b].value == 0.5 && c[0][0].value == 0.5)
        #expect(c[0][a].advantage == nil && sc.groupsBelowTau == 2)  // root and a2's group
        expectNear(c[0][a1].advantage, 0.5, "a1 (children)")
        // descendant leaves: a = (1 + 0 + 0 + 0) / 4 = .25, b = .5, root = 2 / 6;
        // root group (.25, .5): mean .375 -> a = -.125, b = .125. a group unchanged (1, 0).
        let (d, sd) = try run([t], AdvantageConfig(normalization: .none, values: .descendantLeaves))
        #expect(d[0][a].value == 0.25 && d[0][b].value == 0.5 && abs(d[0][0].value - 1.0 / 3) < 1e-15)
        expectNear(d[0][a].advantage, -0.125, "a (leaves)")
        expectNear(d[0][b].advantage, 0.125, "b (leaves)")
        expectNear(d[0][a1].advantage, 0.5, "a1 (leaves)")
        expectNear(d[0][a2].advantage, -0.5, "a2 (leaves)")
        #expect(sd.groupsBelowTau == 1)
    }

    @Test func grpoIsDepthOne() throws {
        // G = 8 rewards (1,0,0,1,1,0,0,0): mean 3/8; squared deviations 3 * .625^2 + 5 * .375^2
        // = 1.875; sample std sqrt(1.875 / 7) = 0.51754917; TRL: A = (r - mean) / (std + 1e-4)
        // -> right .625 / 0.51764917 = 1.20738144, wrong -.375 / 0.51764917 = -0.72442886.
        let rewards: [Double] = [1, 0, 0, 1, 1, 0, 0, 0]
        var t = RolloutTree()
        for r in rewards { t.addChild(of: 0, tokens: [1, 2, 3], logProbs: [0, 0, 0], finishReason: .eos, reward: r) }
        let (out, stats) = try run([t], .grpo)
        for (k, r) in rewards.enumerated() {
            expectNear(out[0][k + 1].advantage, r == 1 ? 1.2073814405913603 : -0.7244288643548162, "leaf \(k)")
        }
        #expect(stats.groups == 1 && stats.groupsKept == 1)

        // Many prompts with random rewards: each tree's group equals the formula.
        var rng = SplitMix64(seed: 7)
        var trees: [RolloutTree] = []
        var all: [[Double]] = []
        for _ in 0..<20 {
            let rs = (0..<6).map { _ in Double(rng.next() % 3) / 2 }
            all.append(rs)
            var tree = RolloutTree()
            for r in rs { tree.addChild(of: 0, finishReason: .eos, reward: r) }
            trees.append(tree)
        }
        let (many, _) = try run(trees, .grpo)
        for (ti, rs) in all.enumerated() {
            let mean = rs.reduce(0, +) / 6
            let std = (rs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 5).squareRoot()
            for (k, r) in rs.enumerated() { expectNear(many[ti][k + 1].advantage, (r - mean) / (std + 1e-4), "tree \(ti) leaf \(k)") }
        }
    }

    @Test func missingRewardThrows() {
        var t = RolloutTree()
        t.addChild(of: 0, finishReason: .eos, reward: 1)
        t.addChild(of: 0, finishReason: .eos)
        var trees = [RolloutTree(), t]
        #expect(throws: AdvantageError(tree: 1, node: 2)) { try Advantages.compute(&trees, config: .init()) }
    }

    @Test func recomputingClearsOldAdvantages() throws {
        let (t, _, _, a1, _, _, _) = Self.treeA()
        let (first, _) = try run([t], AdvantageConfig(normalization: .none, tau: 0))
        #expect(first[0][a1].advantage != nil)
        let (second, _) = try run(first, AdvantageConfig(normalization: .none, tau: 2))
        #expect(second[0].nodes.allSatisfy { $0.advantage == nil })
    }
}
