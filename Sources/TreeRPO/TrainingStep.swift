import Foundation
import Sampling
import Tensors
import Tokenization
import Transformer

/// The policy update of one sampled batch (docs/method.md "Loss"): old log-probabilities from the
/// trainer's own forward, optional reference log-probabilities, then `ppoEpochs` optimiser
/// updates, each accumulating the gradient of every packed micro-batch.
final class PolicyUpdater {
    let model: TransformerModel
    let reference: TransformerModel?
    let gradients: Parameters
    let optimizer: AdamW
    private var activations: Activations?

    init(model: TransformerModel, reference: TransformerModel?, optimizer: AdamW) {
        self.model = model
        self.reference = reference
        self.optimizer = optimizer
        gradients = model.parameters.zerosLike()
    }

    struct Result {
        var loss = 0.0, kl = 0.0, entropy = 0.0, clipFraction = 0.0, gradNorm = 0.0
    }

    /// Buffers for a packed sequence of `n` tokens (grown, never shrunk).
    private func activations(for n: Int) -> Activations {
        if let a = activations, a.capacity >= n { return a }
        let a = Activations(config: model.config, capacity: n, logitCapacity: n, keepsLayers: true)
        activations = a
        return a
    }

    /// Log-probabilities of the loss tokens of `sequence` under `network`.
    private func logProbs(_ network: TransformerModel, _ sequence: PackedSequence, _ tokens: [LossToken]) throws -> [Float] {
        let a = activations(for: sequence.count)
        try network.forward(tokens: sequence.tokens, positions: sequence.positions, mask: try sequence.mask(), activations: a)
        return PolicyLoss.logProbs(logits: a.logits, vocab: model.config.vocabSize, tokens: tokens)
    }

    func update(_ sequences: [PackedSequence], settings: PolicyLossSettings, epochs: Int, maxGradNorm: Double,
                learningRate: Double, step: Int) throws -> Result {
        // Old (and reference) log-probabilities, fixed for all epochs.
        var lossTokens: [[LossToken]] = []
        for s in sequences {
            var tokens = s.lossTokens.map {
                LossToken(row: $0.row, token: $0.token, advantage: $0.advantage, oldLogProb: 0, refLogProb: 0, weight: $0.weight)
            }
            let old = try logProbs(model, s, tokens)
            let ref = try reference.map { try logProbs($0, s, tokens) }
            for i in tokens.indices {
                tokens[i].oldLogProb = old[i]
                tokens[i].refLogProb = ref?[i] ?? old[i]
            }
            lossTokens.append(tokens)
        }
        var result = Result()
        let vocab = model.config.vocabSize
        for _ in 0..<epochs {
            gradients.base.update(repeating: 0, count: gradients.count)
            result = Result()
            var weightSum = 0.0
            for (s, tokens) in zip(sequences, lossTokens) {
                let a = activations(for: s.count)
                let mask = try s.mask()
                try model.forward(tokens: s.tokens, positions: s.positions, mask: mask, activations: a)
                let stats = PolicyLoss.lossAndGradient(logits: a.logits, rows: s.count, vocab: vocab, tokens: tokens, settings: settings)
                try model.backward(tokens: s.tokens, positions: s.positions, mask: mask, activations: a, gradients: gradients)
                let w = Double(tokens.count)
                result.loss += stats.loss
                result.kl += stats.klMean * w
                result.entropy += stats.entropyMean * w
                result.clipFraction += stats.clipFraction * w
                weightSum += w
            }
            if weightSum > 0 {
                result.kl /= weightSum
                result.entropy /= weightSum
                result.clipFraction /= weightSum
            }
            guard result.loss.isFinite else {
                throw TrainingError("step \(step): the loss is \(result.loss); stopped before updating the weights")
            }
            result.gradNorm = maxGradNorm > 0
                ? GradientClipping.clip(gradients.base, count: gradients.count, maxNorm: maxGradNorm)
                : GradientClipping.norm(gradients.base, count: gradients.count)
            guard result.gradNorm.isFinite else {
                let bad = gradients.entries.first { e in
                    UnsafeBufferPointer(start: gradients.base + e.offset, count: e.spec.count).contains { !$0.isFinite }
                }
                throw TrainingError("step \(step): non-finite gradient in \(bad?.spec.name ?? "an unknown tensor") (norm \(result.gradNorm)); stopped before updating the weights")
            }
            optimizer.update(model.parameters, gradients: gradients, lr: learningRate)
        }
        return result
    }
}

/// Training stopped on purpose: names the step and what went wrong.
public struct TrainingError: SettingError, CustomStringConvertible, Equatable {
    public let message: String
    /// The setting that would avoid it (the command line adds its flag).
    public let setting: Setting?
    public init(_ message: String, setting: Setting? = nil) {
        self.message = message
        self.setting = setting
    }
    public var description: String { "finetune: \(message)" }
}
