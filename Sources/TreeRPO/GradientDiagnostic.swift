import Foundation
import Sampling

/// One policy-gradient estimator: how a batch is sampled (TreeRPO's tree or GRPO's group of
/// complete answers) and how its advantages are normalised.
public struct GradientEstimator: Codable, Equatable, Sendable {
    public var algorithm: TrainingConfig.Algorithm
    public var normalization: AdvantageNormalization

    public init(algorithm: TrainingConfig.Algorithm, normalization: AdvantageNormalization) {
        self.algorithm = algorithm
        self.normalization = normalization
    }

    /// "TreeRPO, group std", "GRPO, none", ...
    public var name: String {
        let method = algorithm == .treerpo ? "TreeRPO" : "GRPO"
        switch normalization {
        case .group: return "\(method), group std"
        case .none: return "\(method), no std"
        case .tree: return "\(method), tree std"
        case .batch: return "\(method), batch std"
        }
    }
}

/// What the gradient diagnostic measures and how much it samples.
public struct GradientDiagnosticSettings: Codable, Equatable, Sendable {
    /// TreeRPO's tree (the GRPO arm keeps its response budget).
    public var tree = TreeShape()
    /// GRPO's answers per question.
    public var groupSize = 8
    /// M: independent batches per estimator.
    public var estimates = 16
    /// R: answers per question behind the reference gradient.
    public var referenceSamples = 128
    /// The reference is sampled and differentiated in groups of this many answers per question
    /// (R / this many groups; the advantage's mean is each group's).
    public var referenceGroupSize = 16
    /// Normalisations measured on TreeRPO's trees and on GRPO's groups (each arm's estimators
    /// share its sampled batches).
    public var treeNormalizations: [AdvantageNormalization] = AdvantageNormalization.allCases
    public var grpoNormalizations: [AdvantageNormalization] = [.group, .none]
    /// Apply TreeRPO's group filters (tau 0.1, pruning trees whose leaves agree) to every
    /// estimator, as the treerpo and grpo-filtered presets do; false: tau 0 and no pruning, so
    /// every estimator is the plain gradient of its advantages.
    public var filtered = false
    public var aggregation: LossAggregation = .tokenMean
    public var microBatchTokens = TrainingConfig().microBatchTokens
    public var seed: UInt64 = 0

    public init() {}

    /// The estimators measured, TreeRPO's first.
    public var estimators: [GradientEstimator] {
        treeNormalizations.map { GradientEstimator(algorithm: .treerpo, normalization: $0) }
            + grpoNormalizations.map { GradientEstimator(algorithm: .grpo, normalization: $0) }
    }

    /// The advantage settings of `normalization` (values: children, the paper's; sample std).
    public func advantages(_ normalization: AdvantageNormalization) -> AdvantageConfig {
        let defaults = AdvantageConfig()
        return AdvantageConfig(normalization: normalization, tau: filtered ? defaults.tau : 0,
                               pruneUniformTrees: filtered)
    }

    /// The sampled shape of `algorithm`: the tree, or one group of `answers` complete answers
    /// (TrainingConfig's GRPO shape, so the diagnostic samples what finetune would).
    public func shape(_ algorithm: TrainingConfig.Algorithm, answers: Int? = nil) -> TreeShape {
        var c = TrainingConfig()
        c.tree = tree
        c.algorithm = algorithm
        c.groupSize = answers ?? groupSize
        return c.treeShape
    }

    /// Problems found before anything is sampled, each naming the setting.
    public func validationErrors() -> [String] {
        var e: [String] = []
        if estimates < 3 { e.append("estimates must be at least 3 (a variance, and one with an estimate left out), got \(estimates)") }
        if groupSize < 2 { e.append("group size must be at least 2, got \(groupSize)") }
        if referenceGroupSize < 2 { e.append("reference group size must be at least 2, got \(referenceGroupSize)") }
        if referenceSamples < 2 * referenceGroupSize || referenceSamples % referenceGroupSize != 0 {
            e.append("reference samples must be a multiple of the reference group size (\(referenceGroupSize)) and at least twice it (two halves to compare), got \(referenceSamples)")
        }
        if estimators.isEmpty { e.append("no estimator to measure") }
        if microBatchTokens < 16 { e.append("micro-batch tokens must be at least 16, got \(microBatchTokens)") }
        return e
    }
}

/// What the diagnostic measured.
public struct GradientDiagnosticResult: Codable, Equatable, Sendable {
    public struct Reference: Codable, Equatable, Sendable {
        /// R, in `groups` groups of `groupSize`.
        public var answersPerQuestion: Int
        public var groups: Int
        public var groupSize: Int
        public var tokensSampled: Int
        /// Mean reward of every reference answer: the model's accuracy on these questions.
        public var meanReward: Double
        /// Cosine between the gradients of the first and second half of the groups: how far the
        /// reference's own noise leaves it from the true gradient.
        public var halvesCosine: Double
        /// sqrt(2c / (1 + c)) for the halves' cosine c > 0 (else 0): the cosine between the whole
        /// reference and the true gradient if both halves carry the same signal and independent
        /// noise of equal size.
        public var estimatedCosineToTrueGradient: Double
        public var norm: Double
    }

    public struct Row: Codable, Equatable, Sendable {
        public var estimator: GradientEstimator
        public var name: String
        public var snr: GradientSNR
        /// Per estimate, in draw order: its signal along the reference, its cosine to it, its tokens.
        public var signals: [Double]
        public var cosines: [Double]
        public var tokens: [Int]
    }

    public var settings: GradientDiagnosticSettings
    public var questions: Int
    public var parameters: Int
    public var reference: Reference
    public var estimators: [Row]
}

/// The signal-to-noise ratio of each estimator's policy gradient against a large-sample
/// reference gradient, at the policy's current weights (docs/method.md "Gradient
/// signal-to-noise"). Every estimator sees the same questions; each draws M independent batches
/// (fresh sampling seeds), computes its advantages and the gradient of the policy loss without
/// updating anything, and is summarised by `GradientSNR`. The reference is the plain policy
/// gradient: GRPO's complete answers with advantage r - (mean reward of the question's group),
/// no std, no filters, averaged over R answers per question.
public enum GradientDiagnostic {
    /// Where the work stands: `done` of `total` draws of `phase` ("reference", or an arm's name).
    public struct Progress: Sendable {
        public var phase: String
        public var done: Int
        public var total: Int
    }

    /// Seed streams, so the reference and each arm draw independent batches.
    enum Stream: UInt64 {
        case reference = 1, treerpo = 2, grpo = 3
    }

    /// The sampling seed of draw `index` of `stream`.
    static func drawSeed(_ seed: UInt64, _ stream: Stream, _ index: Int) -> UInt64 {
        var perStream = SplitMix64(seed: seed &+ stream.rawValue &* 0xD1B5_4A32_D192_ED03)
        var perDraw = SplitMix64(seed: perStream.next() &+ UInt64(index))
        return perDraw.next()
    }

    public static func run(policy: some DiagnosedPolicy, settings: GradientDiagnosticSettings,
                           progress: (Progress) -> Void = { _ in }) throws -> GradientDiagnosticResult {
        let problems = settings.validationErrors()
        guard problems.isEmpty else { throw GradientDiagnosticError("invalid settings: " + problems.joined(separator: "; ")) }
        let (reference, referenceSummary, questions) = try referenceGradient(policy: policy, settings: settings, progress: progress)

        var rows: [GradientDiagnosticResult.Row] = []
        let arms: [(TrainingConfig.Algorithm, Stream, [AdvantageNormalization])] = [
            (.treerpo, .treerpo, settings.treeNormalizations), (.grpo, .grpo, settings.grpoNormalizations),
        ]
        for (algorithm, stream, normalizations) in arms where !normalizations.isEmpty {
            let estimators = normalizations.map { GradientEstimator(algorithm: algorithm, normalization: $0) }
            var projections = [[GradientProjection]](repeating: [], count: estimators.count)
            var tokens: [Int] = []
            let phase = algorithm == .treerpo ? "TreeRPO trees" : "GRPO groups"
            for i in 0..<settings.estimates {
                let sampled = try policy.sampleScoredTrees(shape: settings.shape(algorithm), seed: drawSeed(settings.seed, stream, i))
                tokens.append(sampled.reduce(0) { $0 + $1.stepTokenCount })
                for (k, estimator) in estimators.enumerated() {
                    var trees = sampled
                    try Advantages.compute(&trees, config: settings.advantages(estimator.normalization))
                    let sequences = TreePacking.lossSequences(trees, aggregation: settings.aggregation, maxTokens: settings.microBatchTokens)
                    let p = try policy.withLossGradient(of: sequences) { reference.project($0) }
                    guard p.signal.isFinite && p.cosine.isFinite else {
                        throw GradientDiagnosticError("\(estimator.name), estimate \(i + 1): the gradient is not finite (signal \(p.signal), cosine \(p.cosine))")
                    }
                    projections[k].append(p)
                }
                progress(Progress(phase: phase, done: i + 1, total: settings.estimates))
            }
            for (k, estimator) in estimators.enumerated() {
                rows.append(GradientDiagnosticResult.Row(
                    estimator: estimator, name: estimator.name, snr: try GradientSNR(projections: projections[k], tokens: tokens),
                    signals: projections[k].map(\.signal), cosines: projections[k].map(\.cosine), tokens: tokens))
            }
        }
        return GradientDiagnosticResult(settings: settings, questions: questions, parameters: policy.parameterCount,
                                        reference: referenceSummary, estimators: rows)
    }

    /// The mean of the plain policy gradients of R / G groups of G complete answers per question
    /// (advantage r - the group's mean reward; token-mean loss as the estimators), and its
    /// summary. Also returns the number of questions (trees per batch).
    static func referenceGradient(policy: some DiagnosedPolicy, settings: GradientDiagnosticSettings,
                                  progress: (Progress) -> Void)
        throws -> (ReferenceGradient, GradientDiagnosticResult.Reference, Int) {
        let groups = settings.referenceSamples / settings.referenceGroupSize
        let shape = settings.shape(.grpo, answers: settings.referenceGroupSize)
        let plain = AdvantageConfig(normalization: .none, tau: 0, pruneUniformTrees: false)
        // Sums of the groups' gradients over the first and the second half of the groups, `[parameters]`.
        var halves = [[Float]](repeating: [Float](repeating: 0, count: policy.parameterCount), count: 2)
        var tokens = 0, rewardSum = 0.0, leaves = 0, questions = 0
        for g in 0..<groups {
            var trees = try policy.sampleScoredTrees(shape: shape, seed: drawSeed(settings.seed, .reference, g))
            questions = trees.count
            tokens += trees.reduce(0) { $0 + $1.stepTokenCount }
            for tree in trees {
                for leaf in tree.leaves {
                    rewardSum += tree[leaf].reward ?? 0
                    leaves += 1
                }
            }
            try Advantages.compute(&trees, config: plain)
            let sequences = TreePacking.lossSequences(trees, aggregation: settings.aggregation, maxTokens: settings.microBatchTokens)
            let half = g < groups / 2 ? 0 : 1
            try policy.withLossGradient(of: sequences) { gradient in
                halves[half].withUnsafeMutableBufferPointer { sum in
                    for i in 0..<sum.count { sum[i] += gradient[i] }
                }
            }
            progress(Progress(phase: "reference", done: g + 1, total: groups))
        }
        let whole = zip(halves[0], halves[1]).map { ($0 + $1) / Float(groups) }
        let reference = try ReferenceGradient(whole)
        let c = halves[1].withUnsafeBufferPointer { second in
            (try? ReferenceGradient(halves[0]))?.project(second).cosine ?? 0
        }
        let summary = GradientDiagnosticResult.Reference(
            answersPerQuestion: settings.referenceSamples, groups: groups, groupSize: settings.referenceGroupSize,
            tokensSampled: tokens, meanReward: leaves > 0 ? rewardSum / Double(leaves) : 0, halvesCosine: c,
            estimatedCosineToTrueGradient: c > 0 ? (2 * c / (1 + c)).squareRoot() : 0, norm: reference.norm)
        return (reference, summary, questions)
    }
}
