import Foundation
import Sampling
import Tensors
import Tokenization
import Transformer

/// The policy update of one sampled batch (docs/method.md "Loss"): old log-probabilities from the
/// trainer's own forward, optional reference log-probabilities, then `ppoEpochs` optimiser
/// updates, each accumulating the gradient of every packed micro-batch (`PolicyGradient`).
final class PolicyUpdater {
    let policyGradient: PolicyGradient
    let optimizer: AdamW

    var model: TransformerModel { policyGradient.model }
    var gradients: Parameters { policyGradient.gradients }

    init(model: TransformerModel, reference: TransformerModel?, optimizer: AdamW) {
        policyGradient = PolicyGradient(model: model, reference: reference)
        self.optimizer = optimizer
    }

    struct Result {
        var loss = 0.0, kl = 0.0, entropy = 0.0, clipFraction = 0.0, gradNorm = 0.0
    }

    func update(_ sequences: [PackedSequence], settings: PolicyLossSettings, epochs: Int, maxGradNorm: Double,
                learningRate: Double, step: Int) throws -> Result {
        // Old (and reference) log-probabilities, fixed for all epochs.
        let lossTokens = try policyGradient.lossTokens(sequences)
        var result = Result()
        for _ in 0..<epochs {
            let summary = try policyGradient.accumulate(sequences, lossTokens: lossTokens, settings: settings)
            result = Result(loss: summary.loss, kl: summary.kl, entropy: summary.entropy, clipFraction: summary.clipFraction)
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
