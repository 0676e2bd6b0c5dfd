import Foundation
import Sampling
import Tensors
import Tokenization
import Transformer

/// The policy update of one sampled batch (docs/method.md "Loss"): `ppoEpochs` optimiser
/// updates, each accumulating the gradient of every packed micro-batch (`PolicyGradient`). The
/// old log-probabilities come from the first epoch's own forward (the weights have not moved
/// yet) and are kept for the later epochs; reference log-probabilities, when there is a
/// reference model, from its forward before that.
final class PolicyUpdater {
    let policyGradient: PolicyGradient
    let optimizer: AdamW

    var model: TransformerModel { policyGradient.model }
    var gradients: Parameters { policyGradient.gradients }

    /// The loss tokens of the last `update`, `[sequences][loss tokens]`, with the old and
    /// reference log-probabilities every epoch used (kept for the tests).
    private(set) var lastLossTokens: [[LossToken]] = []

    init(model: TransformerModel, reference: TransformerModel?, optimizer: AdamW) {
        policyGradient = PolicyGradient(model: model, reference: reference)
        self.optimizer = optimizer
    }

    struct Result {
        var loss = 0.0, kl = 0.0, entropy = 0.0, clipFraction = 0.0, gradNorm = 0.0
    }

    func update(_ sequences: [PackedSequence], settings: PolicyLossSettings, epochs: Int, maxGradNorm: Double,
                learningRate: Double, step: Int) throws -> Result {
        var result = Result()
        var lossTokens: [[LossToken]] = []
        for epoch in 0..<epochs {
            let summary: PolicyGradient.LossSummary
            if epoch == 0 {
                // pi_old (and pi_ref) read here, then fixed for all epochs.
                (summary, lossTokens) = try policyGradient.firstEpoch(sequences, settings: settings)
                lastLossTokens = lossTokens
            } else {
                summary = try policyGradient.accumulate(sequences, lossTokens: lossTokens, settings: settings)
            }
            result = Result(loss: summary.loss, kl: summary.kl, entropy: summary.entropy, clipFraction: summary.clipFraction)
            guard result.loss.isFinite else {
                throw TrainingError("step \(step): the loss is \(result.loss); stopped before updating the weights")
            }
            // Partial sums of the norm as one process of all ranks' threads would take them.
            let width = Compute.threads * policyGradient.communicator.size
            result.gradNorm = maxGradNorm > 0
                ? GradientClipping.clip(gradients.base, count: gradients.count, maxNorm: maxGradNorm, width: width)
                : GradientClipping.norm(gradients.base, count: gradients.count, width: width)
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
