import Foundation
import Sampling
import Tensors

/// How per-token losses are averaged into one number (docs/method.md "Loss").
public enum LossAggregation: String, Codable, CaseIterable, Sendable {
    /// Mean over every loss token of the whole batch (all trees, all micro-batches).
    case tokenMean = "token-mean"
    /// Mean over root-to-leaf paths of each path's token mean.
    case sequenceMean = "sequence-mean"
}

/// One trained token of a packed sequence: the logits row that predicts it, its id, the
/// advantage of the node it belongs to and its weight in the aggregated loss.
public struct PackedLossToken: Equatable, Sendable {
    public var row: Int32
    public var token: Int32
    public var advantage: Float
    public var weight: Float
}

/// Several rollout trees packed side by side into one token sequence (docs/method.md "Loss"):
/// each tree's prompt, then once, in node order, the step of every node that carries loss or
/// has a descendant that does (`TreePacking.trainedNodes`); the other nodes' tokens would only
/// be context for nodes that are not trained, so the forward and backward skip them. A token's predecessor is the
/// token before it in its own step, the first token of a step follows its parent's last token
/// (the prompt's last token for a first step), so the tree mask lets each token see exactly its
/// root-to-leaf path and positions follow the path depth. The first token of every tree has no
/// predecessor, so trees never see each other.
public struct PackedSequence: Equatable, Sendable {
    /// `[n]` token ids, position ids, and predecessors (-1 for a tree's first prompt token).
    public var tokens: [Int32] = []
    public var positions: [Int32] = []
    public var predecessors: [Int] = []
    /// Tokens that carry loss, in row order.
    public var lossTokens: [PackedLossToken] = []
    /// Index of each packed tree in the caller's list.
    public var trees: [Int] = []

    public var count: Int { tokens.count }

    public func mask() throws -> AttentionMask { try AttentionMask(parents: predecessors) }
}

public enum TreePacking {
    /// Packed length of a tree: its prompt plus the step of every node `trainedNodes` keeps.
    public static func length(of tree: RolloutTree) -> Int {
        let kept = trainedNodes(tree)
        return tree.nodes.indices.reduce(tree.promptTokens.count) { $0 + (kept[$1] ? tree[$1].tokens.count : 0) }
    }

    /// `[nodes]`: whether node i carries an advantage or has a descendant that does, the nodes
    /// whose tokens a packed sequence needs. A node without advantage and with no trained node
    /// below it (a tied leaf, a subtree below a dropped group) changes no loss token's logits:
    /// only its own descendants see it. Children come after their parent in node order.
    public static func trainedNodes(_ tree: RolloutTree) -> [Bool] {
        var kept = tree.nodes.map { $0.advantage != nil }
        for i in tree.nodes.indices.reversed() where kept[i] {
            if let parent = tree[i].parent { kept[parent] = true }
        }
        return kept
    }

    /// Loss tokens of a tree: the tokens of every node with an advantage.
    public static func lossTokenCount(of tree: RolloutTree) -> Int {
        tree.nodes.reduce(0) { $0 + ($1.advantage == nil ? 0 : $1.tokens.count) }
    }

    /// Per-node loss weight of every token of that node (0 for nodes without an advantage),
    /// `[trees][nodes]`, so that the weighted sum over all tokens of the batch is the
    /// aggregated loss.
    ///
    /// - token-mean: 1 / (loss tokens of the batch).
    /// - sequence-mean: a path to leaf l with n_l loss tokens contributes 1 / (P n_l) to each of
    ///   its tokens, P = paths with at least one loss token; a node's weight sums over the leaves
    ///   below it, which is what computing every path separately and averaging would give.
    public static func weights(_ trees: [RolloutTree], aggregation: LossAggregation) -> [[Float]] {
        switch aggregation {
        case .tokenMean:
            let total = trees.reduce(0) { $0 + lossTokenCount(of: $1) }
            let w = total > 0 ? 1 / Float(total) : 0
            return trees.map { t in t.nodes.map { $0.advantage == nil ? 0 : w } }
        case .sequenceMean:
            var perLeaf: [[(leaf: Int, tokens: Int)]] = []
            var paths = 0
            for t in trees {
                let leaves = t.leaves.map { leaf in
                    (leaf, t.path(to: leaf).reduce(0) { $0 + (t[$1].advantage == nil ? 0 : t[$1].tokens.count) })
                }
                paths += leaves.filter { $0.1 > 0 }.count
                perLeaf.append(leaves)
            }
            return zip(trees, perLeaf).map { t, leaves in
                var w = [Double](repeating: 0, count: t.nodes.count)
                for (leaf, n) in leaves where n > 0 {
                    for node in t.path(to: leaf) where t[node].advantage != nil {
                        w[node] += 1 / (Double(paths) * Double(n))
                    }
                }
                return w.map { Float($0) }
            }
        }
    }

    /// Packs `trees` (indices `indices` of the caller's list, with their node weights) into one
    /// sequence. Nodes `trainedNodes` drops are left out; nodes without tokens are skipped and
    /// their children follow the nearest ancestor that has tokens.
    public static func pack(_ trees: [RolloutTree], indices: [Int], weights: [[Float]]) -> PackedSequence {
        var out = PackedSequence()
        let total = indices.reduce(0) { $0 + length(of: trees[$1]) }
        out.tokens.reserveCapacity(total)
        out.positions.reserveCapacity(total)
        out.predecessors.reserveCapacity(total)
        for t in indices {
            let tree = trees[t]
            out.trees.append(t)
            var previous = -1, position: Int32 = 0
            for id in tree.promptTokens {
                out.tokens.append(Int32(id))
                out.positions.append(position)
                out.predecessors.append(previous)
                previous = out.tokens.count - 1
                position += 1
            }
            // lastRow[node]: the packed row of the node's last token, or its nearest ancestor's
            // (the prompt's last token for the root).
            var lastRow = [Int](repeating: -1, count: tree.nodes.count)
            lastRow[RolloutTree.root] = previous
            let kept = trainedNodes(tree)
            for i in tree.nodes.indices where i != RolloutTree.root && kept[i] {
                let node = tree[i]
                var row = lastRow[node.parent!]
                let advantage = node.advantage.map(Float.init)
                for id in node.tokens {
                    out.tokens.append(Int32(id))
                    out.positions.append(row >= 0 ? out.positions[row] + 1 : 0)
                    out.predecessors.append(row)
                    if let advantage, row >= 0 {
                        out.lossTokens.append(PackedLossToken(row: Int32(row), token: Int32(id), advantage: advantage,
                                                              weight: weights[t][i]))
                    }
                    row = out.tokens.count - 1
                }
                lastRow[i] = row
            }
        }
        return out
    }

    /// The packed micro-batches a policy update trains on: the trees that carry any loss token,
    /// weighted by `aggregation` over those trees and packed into sequences of at most
    /// `maxTokens` tokens. Empty when no tree carries loss.
    public static func lossSequences(_ trees: [RolloutTree], aggregation: LossAggregation, maxTokens: Int) -> [PackedSequence] {
        let trained = trees.filter { lossTokenCount(of: $0) > 0 }
        guard !trained.isEmpty else { return [] }
        return packInBatches(trained, weights: weights(trained, aggregation: aggregation), maxTokens: maxTokens)
    }

    /// Groups trees into packed sequences of at most `maxTokens` tokens each (a tree longer than
    /// that gets a sequence of its own), keeping the order.
    public static func packInBatches(_ trees: [RolloutTree], weights: [[Float]], maxTokens: Int) -> [PackedSequence] {
        var batches: [[Int]] = [], current: [Int] = [], used = 0
        for (i, tree) in trees.enumerated() {
            let n = length(of: tree)
            if !current.isEmpty && used + n > maxTokens {
                batches.append(current)
                current = []
                used = 0
            }
            current.append(i)
            used += n
        }
        if !current.isEmpty { batches.append(current) }
        return batches.map { pack(trees, indices: $0, weights: weights) }
    }
}
