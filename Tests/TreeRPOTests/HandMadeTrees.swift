import Sampling
import Testing
@testable import TreeRPO

/// The hand-made trees of the bundled model's token ids that the update tests share: copies of
/// one depth-2 tree (prompt [5, 6, 7]; two first steps, each with two leaves), their rewards
/// varied copy by copy, advantages computed with tau 0 and no pruning, packed into 16-token
/// micro-batches so that each tree is a sequence of its own and accumulation is exercised.
enum HandMadeTrees {
    /// `count` trees (at most 4), one sequence each.
    static func sequences(count: Int = 2) throws -> [PackedSequence] {
        precondition((1...4).contains(count))
        var trees = Array(repeating: tree(), count: count)
        // Node 3 is a's first leaf, 4 its second, 5 b's first leaf.
        let changes: [(tree: Int, node: Int, reward: Double)] = [(1, 3, 0), (2, 5, 1), (3, 4, 1)]
        for c in changes where c.tree < count { trees[c.tree][c.node].reward = c.reward }
        try Advantages.compute(&trees, config: AdvantageConfig(tau: 0, pruneUniformTrees: false))
        let sequences = TreePacking.lossSequences(trees, aggregation: .tokenMean, maxTokens: 16)
        #expect(sequences.count == count)
        return sequences
    }

    /// The tree itself, rewards set, no advantages: first steps a = [8, 9, 10] and b = [11, 12];
    /// a's leaves [13, 14] (reward 1) and [15] (0), b's [16, 17, 18] (0) and [19] (1).
    static func tree() -> RolloutTree {
        var tree = RolloutTree(question: "q", reference: "1", promptTokens: [5, 6, 7])
        let a = tree.addChild(of: 0, tokens: [8, 9, 10], logProbs: [0, 0, 0], finishReason: .stepLength)
        let b = tree.addChild(of: 0, tokens: [11, 12], logProbs: [0, 0], finishReason: .stepLength)
        tree.addChild(of: a, tokens: [13, 14], logProbs: [0, 0], finishReason: .eos, reward: 1)
        tree.addChild(of: a, tokens: [15], logProbs: [0], finishReason: .eos, reward: 0)
        tree.addChild(of: b, tokens: [16, 17, 18], logProbs: [0, 0, 0], finishReason: .eos, reward: 0)
        tree.addChild(of: b, tokens: [19], logProbs: [0], finishReason: .eos, reward: 1)
        return tree
    }
}
