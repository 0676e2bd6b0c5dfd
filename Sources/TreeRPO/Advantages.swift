import Foundation
import Sampling

/// How a step-level group's centred values `V(c_i) - mean_j V(c_j)` are scaled.
public enum AdvantageNormalization: String, CaseIterable, Codable, Sendable {
    /// Divide by the std of the siblings + eps, as GRPO.
    case group
    /// Mean-centred only (Dr. GRPO style): a (0.50, 0.49) group stays a tiny signal.
    case none
    /// Divide by the std of all non-root node values of the same tree + eps.
    case tree
    /// Divide by the std of the centred values of every kept group in the batch + eps.
    case batch
}

/// What an inner node's value is the mean of.
public enum ValueAggregation: String, CaseIterable, Codable, Sendable {
    /// Mean of the children's values: the recursive expectation (the paper's choice). A child
    /// that ended early counts as much as a sibling with a whole subtree under it.
    case children
    /// Mean of the rewards of all leaves below: each finished answer counts once.
    case descendantLeaves
}

public struct AdvantageConfig: Codable, Equatable, Sendable {
    public var normalization: AdvantageNormalization
    public var values: ValueAggregation
    /// Groups whose value spread (max - min) is below this carry no signal and are dropped.
    public var tau: Double
    /// Added to every std before dividing. 1e-4 as TRL's GRPOTrainer.
    public var epsilon: Double
    /// Drop every group of a tree whose leaf rewards are all equal (DAPO's dynamic sampling).
    public var pruneUniformTrees: Bool
    /// Sample std (divide by n - 1) when true, population std (divide by n) when false.
    ///
    /// Default: sample std, because TRL's GRPOTrainer computes `rewards.view(-1, G).std(dim=1)`
    /// and `torch.std` applies Bessel's correction by default; the DeepSeekMath paper writes
    /// `std(r)` without saying. Matching TRL keeps our GRPO numbers comparable with the
    /// reference implementation people check against. For a (1, 0) pair it gives +-0.707
    /// instead of +-1; with `tau` filtering the difference is a constant factor per group size.
    public var unbiasedStd: Bool

    public init(normalization: AdvantageNormalization = .group, values: ValueAggregation = .children,
                tau: Double = 0.1, epsilon: Double = 1e-4, pruneUniformTrees: Bool = true,
                unbiasedStd: Bool = true) {
        self.normalization = normalization
        self.values = values
        self.tau = tau
        self.epsilon = epsilon
        self.pruneUniformTrees = pruneUniformTrees
        self.unbiasedStd = unbiasedStd
    }

    /// Plain GRPO through the same code: one group of complete answers per prompt (a depth-1
    /// tree), group std, nothing dropped.
    public static let grpo = AdvantageConfig(tau: 0, pruneUniformTrees: false)
}

/// Counts for metrics. Every inner node of every tree is one group and lands in exactly one of
/// `groupsKept`, `groupsInPrunedTrees`, `groupsSingleChild`, `groupsBelowTau` (checked in that
/// order), so they sum to `groups`.
public struct AdvantageStats: Codable, Equatable, Sendable {
    public var trees = 0
    /// Trees whose leaves all have the same reward (all right or all wrong).
    public var treesPruned = 0
    public var leaves = 0
    public var meanLeafReward = 0.0
    public var groups = 0
    public var groupsKept = 0
    public var groupsInPrunedTrees = 0
    /// A parent with one child has no sibling to compare with.
    public var groupsSingleChild = 0
    public var groupsBelowTau = 0
    public var nodesWithAdvantage = 0
    /// Step tokens that carry an advantage (the loss tokens).
    public var tokensWithAdvantage = 0
    public var meanAbsAdvantage = 0.0
    /// The same counts by the depth of the group's parent (index 0: the root's children, the
    /// first step; `[D]` for a depth-D tree): where in the answer the signal comes from.
    public var groupsPerDepth: [Int] = []
    public var groupsKeptPerDepth: [Int] = []
    /// Groups (outside pruned trees, two or more children) whose children's values are all
    /// exactly equal: a tie, no signal at any tau (inside `groupsBelowTau` when tau > 0, inside
    /// `groupsKept` with zero advantages when tau is 0).
    public var groupsTiedPerDepth: [Int] = []

    public init() {}

    /// Grows the per-depth arrays to hold `depth` and counts one group there.
    mutating func countGroup(depth: Int, kept: Bool, tied: Bool) {
        while groupsPerDepth.count <= depth {
            groupsPerDepth.append(0)
            groupsKeptPerDepth.append(0)
            groupsTiedPerDepth.append(0)
        }
        groupsPerDepth[depth] += 1
        if kept { groupsKeptPerDepth[depth] += 1 }
        if tied { groupsTiedPerDepth[depth] += 1 }
    }
}

public struct AdvantageError: Error, CustomStringConvertible, Equatable {
    public var tree: Int
    public var node: Int
    public var description: String { "tree \(tree): leaf node \(node) has no reward; score every leaf before computing advantages" }
}

public enum Advantages {
    /// Sets `value` on every node and `advantage` on the members of kept groups (all others are
    /// set to `nil`) across a batch of trees, and returns the counts. Throws when a leaf has no
    /// reward.
    @discardableResult
    public static func compute(_ trees: inout [RolloutTree], config: AdvantageConfig) throws -> AdvantageStats {
        var stats = AdvantageStats()
        stats.trees = trees.count
        var rewardSum = 0.0
        // (tree, parent) of each kept group, and its children's mean value.
        var kept: [(tree: Int, parent: Int, mean: Double)] = []
        var treeScale = [Double](repeating: 1, count: trees.count)

        for t in trees.indices {
            try assignValues(&trees[t], config.values, treeIndex: t)
            let leaves = trees[t].leaves
            let rewards = leaves.map { trees[t][$0].reward! }
            stats.leaves += leaves.count
            rewardSum += rewards.reduce(0, +)
            let uniform = !rewards.isEmpty && rewards.allSatisfy { $0 == rewards[0] }
            let pruned = config.pruneUniformTrees && uniform
            if pruned { stats.treesPruned += 1 }
            let nonRootValues = trees[t].nodes.dropFirst().map(\.value)
            treeScale[t] = standardDeviation(nonRootValues, unbiased: config.unbiasedStd) + config.epsilon

            for parent in trees[t].innerNodes {
                stats.groups += 1
                let values = trees[t][parent].children.map { trees[t][$0].value }
                var isKept = false, isTied = false
                if pruned {
                    stats.groupsInPrunedTrees += 1
                } else if values.count < 2 {
                    stats.groupsSingleChild += 1
                } else if values.max()! - values.min()! < config.tau {
                    stats.groupsBelowTau += 1
                } else {
                    stats.groupsKept += 1
                    isKept = true
                    kept.append((t, parent, mean(values)))
                }
                if !pruned, values.count >= 2 { isTied = values.max()! == values.min()! }
                stats.countGroup(depth: trees[t][parent].depth, kept: isKept, tied: isTied)
            }
        }
        stats.meanLeafReward = stats.leaves > 0 ? rewardSum / Double(stats.leaves) : 0

        // The batch scale pools the centred values of every kept group: the spread of the
        // group means themselves is exactly what group-relative advantages remove.
        var batchScale = 1.0
        if config.normalization == .batch {
            var centred: [Double] = []
            for g in kept {
                for c in trees[g.tree][g.parent].children { centred.append(trees[g.tree][c].value - g.mean) }
            }
            batchScale = standardDeviation(centred, unbiased: config.unbiasedStd) + config.epsilon
        }

        var absSum = 0.0
        for g in kept {
            let children = trees[g.tree][g.parent].children
            let scale: Double
            switch config.normalization {
            case .group:
                scale = standardDeviation(children.map { trees[g.tree][$0].value }, unbiased: config.unbiasedStd) + config.epsilon
            case .none: scale = 1
            case .tree: scale = treeScale[g.tree]
            case .batch: scale = batchScale
            }
            for c in children {
                let a = (trees[g.tree][c].value - g.mean) / scale
                trees[g.tree][c].advantage = a
                absSum += abs(a)
                stats.nodesWithAdvantage += 1
                stats.tokensWithAdvantage += trees[g.tree][c].tokens.count
            }
        }
        stats.meanAbsAdvantage = stats.nodesWithAdvantage > 0 ? absSum / Double(stats.nodesWithAdvantage) : 0
        return stats
    }

    /// Leaf value = reward; inner value = mean of children's values, or of all leaf rewards
    /// below. Clears every advantage. Children have higher indices than parents, so one
    /// backward scan sees each child before its parent.
    static func assignValues(_ tree: inout RolloutTree, _ mode: ValueAggregation, treeIndex: Int) throws {
        let n = tree.nodes.count
        var leafSum = [Double](repeating: 0, count: n)
        var leafCount = [Int](repeating: 0, count: n)
        for i in stride(from: n - 1, through: 0, by: -1) {
            tree[i].advantage = nil
            let node = tree[i]
            if node.isLeaf {
                guard let r = node.reward else { throw AdvantageError(tree: treeIndex, node: i) }
                tree[i].value = r
                leafSum[i] = r
                leafCount[i] = 1
            } else if node.children.isEmpty {
                tree[i].value = 0  // a root with no children: nothing sampled
            } else {
                for c in node.children {
                    leafSum[i] += leafSum[c]
                    leafCount[i] += leafCount[c]
                }
                switch mode {
                case .children: tree[i].value = mean(node.children.map { tree[$0].value })
                case .descendantLeaves: tree[i].value = leafSum[i] / Double(leafCount[i])
                }
            }
        }
    }

    static func mean(_ xs: [Double]) -> Double {
        xs.isEmpty ? 0 : xs.reduce(0, +) / Double(xs.count)
    }

    /// 0 for fewer than two values.
    static func standardDeviation(_ xs: [Double], unbiased: Bool) -> Double {
        guard xs.count >= 2 else { return 0 }
        let m = mean(xs)
        let ss = xs.reduce(0) { $0 + ($1 - m) * ($1 - m) }
        return (ss / Double(unbiased ? xs.count - 1 : xs.count)).squareRoot()
    }
}
