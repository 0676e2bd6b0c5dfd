import Foundation
import Sampling
import Tokenization

/// Every leaf of a batch of sampled trees scored: each leaf's response decoded and given to the
/// reward function, its reward written into the tree. The trainer and the gradient diagnostic
/// score the same way.
struct LeafScores {
    /// Leaves scored, over all trees.
    var leaves = 0
    /// Leaves whose answer the built-in verifier finds correct, whatever the reward function.
    var correct = 0
    /// Response tokens over all root-to-leaf paths.
    var responseTokens = 0
    /// One reward per leaf, trees in order and each tree's leaves in node order.
    var rewards: [Double] = []
    /// Computation lines (`Step k: a op b = c`) over all leaves, and the wrong ones.
    var lines = StepLineTally()

    /// Scores the leaves of `trees` (each carrying its question and reference) and sets their rewards.
    static func score(_ trees: inout [RolloutTree], tokenizer: Tokenizer, reward: any RewardFunction) throws -> LeafScores {
        var scores = LeafScores()
        var queries: [RewardQuery] = [], owners: [(tree: Int, node: Int)] = []
        for (t, tree) in trees.enumerated() {
            for leaf in tree.leaves {
                let ids = tree.responseTokens(to: leaf)
                scores.responseTokens += ids.count
                let text = tokenizer.decode(ids, skipSpecialTokens: true)
                scores.lines = scores.lines + StepLineCheck.tally(text)
                queries.append(RewardQuery(question: tree.question, response: text, reference: tree.reference))
                owners.append((t, leaf))
                if ExactMatchReward.isCorrect(response: text, reference: tree.reference) { scores.correct += 1 }
            }
        }
        scores.rewards = try reward.rewards(queries)
        for (owner, r) in zip(owners, scores.rewards) { trees[owner.tree][owner.node].reward = r }
        scores.leaves = queries.count
        return scores
    }
}
