import Foundation
import Sampling
import Testing
@testable import TreeRPO

/// Packing a tree into one sequence, worked out by hand.
@Suite struct PackedTreeTests {
    /// prompt [1, 2]; root -> a [10, 11], b [12];  a -> a1 [20] (r 1), a2 [21, 22] (r 0);  b leaf (r 0).
    static func tree() -> RolloutTree {
        var t = RolloutTree(question: "q", reference: "1", promptTokens: [1, 2])
        let a = t.addChild(of: 0, tokens: [10, 11], logProbs: [0, 0], finishReason: .stepLength)
        t.addChild(of: 0, tokens: [12], logProbs: [0], finishReason: .eos, reward: 0)
        t.addChild(of: a, tokens: [20], logProbs: [0], finishReason: .eos, reward: 1)
        t.addChild(of: a, tokens: [21, 22], logProbs: [0, 0], finishReason: .eos, reward: 0)
        for i in 1..<t.nodes.count { t[i].advantage = Double(i) }
        return t
    }

    @Test func layoutFollowsTheTree() throws {
        let t = Self.tree()
        let w = TreePacking.weights([t], aggregation: .tokenMean)
        let p = TreePacking.pack([t], indices: [0], weights: w)
        // rows: 0:1 1:2 | a: 2:10 3:11 | b: 4:12 | a1: 5:20 | a2: 6:21 7:22
        #expect(p.tokens == [1, 2, 10, 11, 12, 20, 21, 22])
        #expect(p.predecessors == [-1, 0, 1, 2, 1, 3, 3, 6])
        #expect(p.positions == [0, 1, 2, 3, 2, 4, 4, 5])
        // Each step token is predicted from its predecessor's row; the prompt carries no loss.
        #expect(p.lossTokens.map(\.row) == [1, 2, 1, 3, 3, 6])
        #expect(p.lossTokens.map(\.token) == [10, 11, 12, 20, 21, 22])
        #expect(p.lossTokens.map(\.advantage) == [1, 1, 2, 3, 4, 4])
        #expect(p.lossTokens.allSatisfy { $0.weight == 1 / Float(6) })
        let mask = try p.mask()
        #expect(mask.visibleKeys(of: 7) == [7, 6, 3, 2, 1, 0])
        #expect(mask.visibleKeys(of: 4) == [4, 1, 0])
    }

    @Test func nodesWithoutAdvantageAreContextOnly() {
        var t = Self.tree()
        t[1].advantage = nil
        let p = TreePacking.pack([t], indices: [0], weights: TreePacking.weights([t], aggregation: .tokenMean))
        #expect(p.lossTokens.map(\.token) == [12, 20, 21, 22])
        #expect(p.lossTokens.allSatisfy { $0.weight == 0.25 })
    }

    /// Leaf b and leaf a2 carry no advantage and nothing below them does: their tokens would be
    /// context for no trained token, so the sequence leaves them out (issue 18's waste).
    /// rows: 0:1 1:2 | a: 2:10 3:11 | a1: 4:20.
    @Test func untrainedSubtreesAreLeftOut() throws {
        var t = Self.tree()
        t[2].advantage = nil
        t[4].advantage = nil
        #expect(TreePacking.trainedNodes(t) == [true, true, false, true, false])
        let p = TreePacking.pack([t], indices: [0], weights: TreePacking.weights([t], aggregation: .tokenMean))
        #expect(p.tokens == [1, 2, 10, 11, 20])
        #expect(p.predecessors == [-1, 0, 1, 2, 3])
        #expect(p.positions == [0, 1, 2, 3, 4])
        #expect(p.lossTokens.map(\.row) == [1, 2, 3])
        #expect(p.lossTokens.map(\.token) == [10, 11, 20])
        #expect(TreePacking.length(of: t) == 5)
        // A trained tree's untrained nodes above a trained one stay as its context.
        t[1].advantage = nil
        #expect(TreePacking.trainedNodes(t) == [true, true, false, true, false])
        #expect(TreePacking.pack([t], indices: [0], weights: TreePacking.weights([t], aggregation: .tokenMean)).tokens == [1, 2, 10, 11, 20])
    }

    /// Paths: a1 = a(2) + a1(1) = 3 tokens, a2 = a(2) + a2(2) = 4, b = 1; P = 3.
    /// a: 1/(3*3) + 1/(3*4); a1: 1/9; a2: 1/12; b: 1/3.
    @Test func sequenceMeanWeightsAverageThePaths() {
        let t = Self.tree()
        let w = TreePacking.weights([t], aggregation: .sequenceMean)[0]
        let expected: [Double] = [0, 1.0 / 9 + 1.0 / 12, 1.0 / 3, 1.0 / 9, 1.0 / 12]
        for (got, want) in zip(w, expected) { #expect(abs(Double(got) - want) < 1e-7) }
        // The weights of each path's tokens sum to 1/P per path, so the total is 1.
        let total = zip(t.nodes, w).reduce(0.0) { $0 + Double($1.1) * Double($1.0.tokens.count) }
        #expect(abs(total - 1) < 1e-6)
    }

    @Test func treesSideBySideNeverSeeEachOther() throws {
        let t = Self.tree()
        let p = TreePacking.pack([t, t], indices: [0, 1], weights: TreePacking.weights([t, t], aggregation: .tokenMean))
        #expect(p.count == 16)
        #expect(p.predecessors[8] == -1)
        #expect(p.positions[8] == 0)
        let mask = try p.mask()
        #expect(mask.visibleKeys(of: 15) == [15, 14, 11, 10, 9, 8])
        #expect(p.lossTokens.count == 12 && p.lossTokens.allSatisfy { $0.weight == 1 / Float(12) })
    }

    @Test func batchesRespectTheTokenCap() {
        let t = Self.tree()
        let trees = [t, t, t]
        let w = TreePacking.weights(trees, aggregation: .tokenMean)
        let batches = TreePacking.packInBatches(trees, weights: w, maxTokens: 16)
        #expect(batches.map(\.trees) == [[0, 1], [2]])
        #expect(TreePacking.packInBatches(trees, weights: w, maxTokens: 4).map(\.trees) == [[0], [1], [2]])
    }
}
