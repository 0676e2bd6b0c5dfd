import Foundation

/// One line of `runs/NAME/metrics.jsonl`: what one training step sampled, kept and changed.
public struct StepMetrics: Codable, Equatable, Sendable {
    public var step: Int
    // Rewards.
    public var rewardMean = 0.0
    /// Share of leaves whose answer the verifier accepts.
    public var leafAccuracy = 0.0
    public var leaves = 0
    public var meanResponseTokens = 0.0
    // Groups (every inner node is one group; the four reasons sum to `groups`).
    public var trees = 0
    public var treesPruned = 0
    public var groups = 0
    public var groupsKept = 0
    public var groupsDroppedPruned = 0
    public var groupsDroppedSingleChild = 0
    public var groupsDroppedBelowTau = 0
    /// Groups, kept groups and exact ties by the depth of the group's parent (index 0: the
    /// first step's siblings); absent in metrics written before they were recorded.
    public var groupsPerDepth: [Int]? = nil
    public var groupsKeptPerDepth: [Int]? = nil
    public var groupsTiedPerDepth: [Int]? = nil
    /// Computation lines (`Step k: a op b = c`) in the step's leaves, and those with a wrong
    /// result: `stepLineSlips / stepLines` is the per-line slip rate (0 lines on other tasks).
    public var stepLines: Int? = nil
    public var stepLineSlips: Int? = nil
    /// Std of the advantages of the trained nodes, and their mean absolute value.
    public var advantageStd = 0.0
    public var advantageMeanAbs = 0.0
    // Loss and update (the last PPO epoch's values).
    public var loss = 0.0
    public var kl = 0.0
    public var entropy = 0.0
    public var clipFraction = 0.0
    /// Global gradient norm before clipping.
    public var gradNorm = 0.0
    public var learningRate = 0.0
    // Work.
    /// Tokens the sampler generated (each tree token once).
    public var tokensSampled = 0
    /// Sampled tokens the run has generated so far, this step included (the x axis of budgets).
    public var tokensSampledTotal = 0
    /// Loss tokens trained, and packed tokens forwarded per update.
    public var tokensTrained = 0
    public var tokensPacked = 0
    /// Tokens the same trees would need as separate root-to-leaf sequences (prompt included).
    public var tokensPathExpanded = 0
    public var secondsSampling = 0.0
    public var secondsTraining = 0.0
    /// Matrix-product FLOPs of the step's sampling and of its update, counted from the shapes
    /// (`StepWork`); optional so that metrics written before they existed still read.
    public var flopsSampling: Double? = nil
    public var flopsTraining: Double? = nil
    /// In a job of several ranks (docs/mpi.md), rank 0's seconds inside exchanges with the
    /// others (trees, loss statistics, the gradient sum; waiting for a slower rank included) and
    /// the bytes it sent; absent for one process.
    public var secondsExchanging: Double? = nil
    public var bytesSent: Int? = nil
    /// Held-out evaluation, on the steps that run one.
    public var eval: EvaluationResult? = nil

    public init(step: Int) { self.step = step }

    enum CodingKeys: String, CodingKey {
        case step
        case rewardMean = "reward_mean", leafAccuracy = "leaf_accuracy", leaves
        case meanResponseTokens = "mean_response_tokens"
        case trees, treesPruned = "trees_pruned", groups, groupsKept = "groups_kept"
        case groupsDroppedPruned = "groups_dropped_pruned", groupsDroppedSingleChild = "groups_dropped_single_child"
        case groupsDroppedBelowTau = "groups_dropped_below_tau"
        case groupsPerDepth = "groups_per_depth", groupsKeptPerDepth = "groups_kept_per_depth"
        case groupsTiedPerDepth = "groups_tied_per_depth"
        case stepLines = "step_lines", stepLineSlips = "step_line_slips"
        case advantageStd = "advantage_std", advantageMeanAbs = "advantage_mean_abs"
        case loss, kl, entropy, clipFraction = "clip_fraction", gradNorm = "grad_norm", learningRate = "learning_rate"
        case tokensSampled = "tokens_sampled", tokensSampledTotal = "tokens_sampled_total"
        case tokensTrained = "tokens_trained", tokensPacked = "tokens_packed", tokensPathExpanded = "tokens_path_expanded"
        case secondsSampling = "seconds_sampling", secondsTraining = "seconds_training"
        case flopsSampling = "flops_sampling", flopsTraining = "flops_training"
        case secondsExchanging = "seconds_exchanging", bytesSent = "exchange_bytes_sent"
        case eval
    }

    /// One JSON line (sorted keys).
    public func jsonLine() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// Reads a metrics file; lines that do not parse (a line cut by a kill) are skipped.
    public static func read(_ url: URL) throws -> [StepMetrics] {
        let text = try String(contentsOf: url, encoding: .utf8)
        let decoder = JSONDecoder()
        return text.split(separator: "\n").compactMap { try? decoder.decode(StepMetrics.self, from: Data($0.utf8)) }
    }
}
