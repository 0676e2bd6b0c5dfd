import Foundation
import Sampling
import Transformer

/// A workspace's model answering a fixed list of questions, as the gradient diagnostic sees it:
/// trees from `TreeSampler` at temperature 1 (the model's own distribution, so every estimator
/// estimates the gradient of the same policy), leaves scored as the trainer scores them
/// (`LeafScores`), gradients from the trainer's own `PolicyGradient`.
public final class LanguageModelPolicy: DiagnosedPolicy {
    let loaded: WorkspaceModel
    let problems: [Problem]
    let prompts: [[Int]]
    let reward: any RewardFunction
    let sampler: TreeSampler
    let gradient: PolicyGradient
    /// Refuse trees whose sampling memory could exceed this (nil: the sampler's default).
    public var memoryLimitBytes: Int?
    /// Ids whose text holds a newline: read from the tokenizer only when a shape asks for the
    /// newline step boundary (a large vocabulary takes a moment to decode).
    private lazy var newlineTokens: Set<Int> = loaded.newlineTokenIds()

    /// `problems` rendered through `template`; the built-in verifier scores unless `reward` is given.
    public init(model: WorkspaceModel, problems: [Problem], template: PromptTemplate,
                reward: any RewardFunction = ExactMatchReward()) throws {
        guard !problems.isEmpty else { throw GradientDiagnosticError("expected at least one question, got none") }
        loaded = model
        self.problems = problems
        prompts = try problems.map { try template.promptTokens(question: $0.question, tokenizer: model.tokenizer) }
        self.reward = reward
        sampler = TreeSampler(model: model.model)
        gradient = PolicyGradient(model: model.model, reference: nil)
    }

    public var parameterCount: Int { gradient.gradients.count }

    public func sampleScoredTrees(shape: TreeShape, seed: UInt64) throws -> [RolloutTree] {
        let options = TreeSamplingOptions(shape: shape, newlineTokens: shape.stepBoundary == .newline ? newlineTokens : [],
                                          sampler: SamplerChain(), seed: seed, stopTokens: loaded.stopTokens)
        var trees = try sampler.sample(prompts: prompts, options: options, memoryLimitBytes: memoryLimitBytes)
        for i in trees.indices {
            trees[i].question = problems[i].question
            trees[i].reference = problems[i].solution
        }
        _ = try LeafScores.score(&trees, tokenizer: loaded.tokenizer, reward: reward)
        return trees
    }

    public func withLossGradient<T>(of sequences: [PackedSequence], _ body: (UnsafeBufferPointer<Float>) throws -> T) throws -> T {
        try gradient.atCurrentWeights(sequences, settings: PolicyLossSettings(beta: 0))
        return try body(UnsafeBufferPointer(start: gradient.gradients.base, count: gradient.gradients.count))
    }
}
