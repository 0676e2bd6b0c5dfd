import Foundation
import ModelIO
import Sampling
import Transformer

/// Everything that decides what a fine-tuning run computes. Saved as `runs/NAME/config.json`;
/// a resumed run uses the saved copy, and its digest goes into every checkpoint and export.
public struct TrainingConfig: Codable, Equatable, Sendable {
    public enum Algorithm: String, Codable, CaseIterable, Sendable {
        /// Trees of depth `depth` with `branching` children per level.
        case treerpo
        /// One group of `groupSize` complete answers per prompt: a depth-1 tree through the same code.
        case grpo
    }

    /// Named method settings, so every table can say which GRPO it ran (docs/method.md "Advantages").
    public enum Preset: String, CaseIterable, Sendable {
        /// Trees; sibling groups below `tau` and trees whose leaves all agree are dropped.
        case treerpo
        /// GRPO as TRL's GRPOTrainer: every group trains, also a group whose answers all agree
        /// (its advantages are zero, but its tokens count in the token-mean).
        case grpoPlain = "grpo-plain"
        /// GRPO with TreeRPO's filters (tau and pruning), as DAPO's dynamic sampling.
        case grpoFiltered = "grpo-filtered"
    }

    /// Sets the algorithm and the group filters of `preset`; the other settings stay.
    public mutating func apply(_ preset: Preset) {
        switch preset {
        case .treerpo:
            algorithm = .treerpo
            advantages.tau = AdvantageConfig().tau
            advantages.pruneUniformTrees = true
        case .grpoPlain:
            algorithm = .grpo
            advantages.tau = 0
            advantages.pruneUniformTrees = false
        case .grpoFiltered:
            algorithm = .grpo
            advantages.tau = AdvantageConfig().tau
            advantages.pruneUniformTrees = true
        }
    }

    /// The method as tables name it, read from the settings (so it cannot disagree with them):
    /// "TreeRPO", "GRPO (plain)", "GRPO (filtered)", or the filters spelt out when they match
    /// no preset.
    public var methodName: String {
        let tau = advantages.tau, prune = advantages.pruneUniformTrees
        let filters = "tau \(tau), \(prune ? "pruning" : "no pruning")"
        switch algorithm {
        case .treerpo:
            return tau == AdvantageConfig().tau && prune ? "TreeRPO" : "TreeRPO (\(filters))"
        case .grpo:
            if tau == 0 && !prune { return "GRPO (plain)" }
            if tau == AdvantageConfig().tau && prune { return "GRPO (filtered)" }
            return "GRPO (\(filters))"
        }
    }

    public var algorithm: Algorithm = .treerpo

    // Tree shape (docs/method.md "Tree sampling"): the fields of Sampling's `TreeShape`, with its
    // defaults, read and written as one through `tree`. They are stored one by one, under the
    // names `TreeShape` is coded with, so config.json (and the digest every checkpoint holds)
    // keeps the bytes it had: a run saved before resumes.
    public var depth = TreeShape().depth
    /// Children per level, `depth` entries.
    public var branching = TreeShape().branching
    public var stepTokens = TreeShape().stepTokens
    public var stepBoundary = TreeShape().stepBoundary
    /// With the newline boundary: a step ends at the first newline after at least this many tokens.
    public var minStepTokens = TreeShape().minStepTokens
    /// Depth-`depth` nodes run on to EOS or the budget (leaves are finished answers).
    public var lastLevelRunsToEnd = TreeShape().lastLevelRunsToEnd
    public var maxResponseTokens = TreeShape().maxResponseTokens

    /// The tree shape as configured (for `.grpo`, `treeShape` is what is sampled).
    public var tree: TreeShape {
        get {
            TreeShape(depth: depth, branching: branching, stepTokens: stepTokens, stepBoundary: stepBoundary,
                      minStepTokens: minStepTokens, lastLevelRunsToEnd: lastLevelRunsToEnd, maxResponseTokens: maxResponseTokens)
        }
        set {
            depth = newValue.depth
            branching = newValue.branching
            stepTokens = newValue.stepTokens
            stepBoundary = newValue.stepBoundary
            minStepTokens = newValue.minStepTokens
            lastLevelRunsToEnd = newValue.lastLevelRunsToEnd
            maxResponseTokens = newValue.maxResponseTokens
        }
    }
    /// GRPO's group size G.
    public var groupSize = 8
    public var temperature: Float = 1
    public var topP: Float = 1
    public var topK = 0

    // Values and advantages.
    public var advantages = AdvantageConfig()

    // Loss.
    public var epsLow: Float = 0.2
    public var epsHigh: Float = 0.2
    /// KL weight to the starting model (k3); 0 skips the reference forward.
    public var beta: Float = 0
    public var aggregation: LossAggregation = .tokenMean

    // Optimiser.
    public var learningRate = 2e-5
    public var warmupSteps = 0
    public var schedule: LearningRateSchedule.Shape = .constant
    public var minLearningRateRatio = 0.1
    public var adam = AdamW.Hyperparameters(beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.0)
    /// Global gradient-norm clip; 0 turns it off.
    public var maxGradNorm = 1.0

    // Loop.
    public var steps = 20
    /// Stop once this many tokens have been sampled (0: no limit): equal budgets for GRPO and
    /// TreeRPO, whose steps sample different amounts.
    public var maxSampledTokens = 0
    public var promptsPerStep = 8
    /// Optimiser updates per sampled batch.
    public var ppoEpochs = 1
    /// Most tokens in one packed forward/backward; trees are accumulated over micro-batches.
    public var microBatchTokens = 1024
    public var seed: UInt64 = 0
    public var checkpointEvery = 10
    public var keepCheckpoints = 2
    /// Dump the first trees of a step as JSON every this many steps (0: never).
    public var treeDumpEvery = 10

    // Held-out evaluation during training (0: never).
    public var evalEvery = 0
    public var evalQuestions = 64
    public var evalSamples = 4
    public var evalTemperature: Float = 1

    // Data.
    /// "arithmetic" (the built-in task) or the path of a JSONL file.
    public var data = "arithmetic"
    public var questionField = "question"
    public var answerField = "answer"
    /// Prompt template with `{question}`; `nil` uses `PromptTemplate.arithmetic` ("Question: ...\nAnswer:\n").
    public var promptTemplate: String? = nil
    /// `auto` (the workspace's chat template), `none` (use `promptTemplate`) or a Jinja file;
    /// `nil`: `auto` when the workspace's model has a chat template and no `promptTemplate` is
    /// given, else `none`.
    public var chatTemplate: String? = nil
    public var arithmetic = ArithmeticTask()
    /// The built-in task's fine-tuning questions come from this seed, not from `seed` (which
    /// orders them and drives sampling): every run seed trains on the same pool (`DataSeeds`).
    public var dataSeed: UInt64 = DataSeeds.training
    /// Held-out questions are drawn from this seed (the built-in task) or the last
    /// `evalQuestions` lines of the data file are held out.
    public var evalSeed: UInt64 = DataSeeds.heldOut

    /// Reward: the built-in verifier, or an external command (see `ExternalCommandReward`).
    public var rewardCommand: String? = nil
    /// Seconds one call of the reward command may take (nil: `defaultRewardTimeout`).
    public var rewardTimeout: Double? = nil
    public static let defaultRewardTimeout = 600.0
    public var formatReward = 0.0

    public init() {}

    /// The tree actually sampled: GRPO is depth 1 with G children and one step to the end.
    public var treeShape: TreeShape {
        var shape = tree
        if algorithm == .grpo {
            shape.depth = 1
            shape.branching = [groupSize]
            shape.stepTokens = maxResponseTokens
        }
        return shape
    }

    /// Leaves per tree at most (the product of the branching factors).
    public var leavesPerTree: Int { treeShape.branching.reduce(1, *) }

    public var learningRateSchedule: LearningRateSchedule {
        LearningRateSchedule(peak: learningRate, warmupSteps: warmupSteps, shape: schedule, totalSteps: steps,
                             minRatio: minLearningRateRatio)
    }

    /// The learning rate of update `step`, taken after it sampled: the schedule runs over the
    /// run's real length, whichever of `steps` and `maxSampledTokens` ends it first. Against a
    /// token budget, progress is the share sampled before this step, and 1 on the step that
    /// spends the budget (the last): a budget run with `steps` set huge still decays to its end.
    public func learningRate(step: Int, tokensSampledBefore: Int, tokensSampledAfter: Int) -> Double {
        let schedule = learningRateSchedule
        let decaySteps = steps - 1 - warmupSteps
        var progress = decaySteps > 0 ? Double(step - warmupSteps) / Double(decaySteps) : 0
        if maxSampledTokens > 0 {
            let tokenProgress = tokensSampledAfter >= maxSampledTokens ? 1 : Double(tokensSampledBefore) / Double(maxSampledTokens)
            progress = max(progress, tokenProgress)
        }
        return schedule.learningRate(step: step, progress: progress)
    }

    /// Problems a run would hit later, found now; each names the setting.
    public func validationErrors() -> [String] {
        var e: [String] = []
        if algorithm == .treerpo {
            if depth < 1 { e.append("depth must be at least 1, got \(depth)") }
            if branching.count != depth { e.append("branching needs one entry per level (depth \(depth)), got \(branching)") }
            if branching.contains(where: { $0 < 1 }) { e.append("branching entries must be at least 1, got \(branching)") }
            if stepTokens < 1 { e.append("step-tokens must be at least 1, got \(stepTokens)") }
        } else if groupSize < 2 {
            e.append("group-size must be at least 2 for GRPO, got \(groupSize)")
        }
        if let t = rewardTimeout, !(t > 0 && t.isFinite) { e.append("reward-timeout must be a positive number of seconds, got \(t)") }
        if maxResponseTokens < 1 { e.append("max-response-tokens must be at least 1, got \(maxResponseTokens)") }
        if !(temperature > 0 && temperature.isFinite) { e.append("temperature must be > 0 for training, got \(temperature)") }
        if !(topP > 0 && topP <= 1) { e.append("top-p must be in (0, 1], got \(topP)") }
        if topK < 0 { e.append("top-k must be >= 0, got \(topK)") }
        if !(epsLow >= 0 && epsLow < 1) { e.append("eps-low must be in [0, 1), got \(epsLow)") }
        if !(epsHigh >= 0) { e.append("eps-high must be >= 0, got \(epsHigh)") }
        if !(beta >= 0) { e.append("beta must be >= 0, got \(beta)") }
        if !(learningRate > 0 && learningRate.isFinite) { e.append("lr must be > 0, got \(learningRate)") }
        if steps < 1 { e.append("steps must be at least 1, got \(steps)") }
        if maxSampledTokens < 0 { e.append("max-sampled-tokens must be >= 0, got \(maxSampledTokens)") }
        if promptsPerStep < 1 { e.append("prompts-per-step must be at least 1, got \(promptsPerStep)") }
        if ppoEpochs < 1 { e.append("ppo-epochs must be at least 1, got \(ppoEpochs)") }
        if microBatchTokens < 16 { e.append("micro-batch-tokens must be at least 16, got \(microBatchTokens)") }
        if checkpointEvery < 1 { e.append("checkpoint-every must be at least 1, got \(checkpointEvery)") }
        if keepCheckpoints < 1 { e.append("keep-checkpoints must be at least 1, got \(keepCheckpoints)") }
        if evalEvery < 0 || evalQuestions < 1 || evalSamples < 1 {
            e.append("eval-every must be >= 0, eval-questions and eval-samples >= 1")
        }
        if promptTemplate != nil, let chat = chatTemplate, chat != "none" {
            e.append("promptTemplate and chatTemplate \(chat) exclude each other (give one)")
        }
        if let template = promptTemplate, !template.contains(PromptTemplate.placeholder) {
            e.append("prompt template must contain \(PromptTemplate.placeholder)")
        }
        return e
    }

    /// The serialised form (sorted keys, so equal configs give equal bytes).
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// SHA-256 of `encoded()`: names this exact configuration in checkpoints and exports.
    public func digest() throws -> String { SHA256.hex(try encoded()) }
}
