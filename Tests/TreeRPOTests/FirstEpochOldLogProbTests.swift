import Foundation
import ModelIO
import Sampling
import Testing
import Transformer
@testable import TreeRPO

/// Issue 18: the update reads pi_old from its first epoch's own forward instead of a separate
/// forward before it. Against the update as it was (`lossTokens(_:)`'s separate forward, then
/// every epoch's forward, loss, backward, clipping and AdamW), on the bundled model, for one and
/// for three epochs, with and without a reference model (beta 0.1, reference weights perturbed
/// so that the KL term acts): the old and reference log-probabilities the loss used are equal bit
/// for bit, and so are the reported loss and the weights after the last epoch.
@Suite struct FirstEpochOldLogProbTests {
    @Test(arguments: [1, 3], [false, true])
    func oldLogProbsOfTheFirstEpochEqualASeparateForward(epochs: Int, withReference: Bool) throws {
        let root = try BundledModel.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let ws = try BundledModel.workspace(in: root)
        let updated = try WorkspaceModel.load(ws), twin = try WorkspaceModel.load(ws)
        var reference: TransformerModel?
        if withReference {
            let r = try WorkspaceModel.load(ws)
            // Scale every weight by 1.02, so log pi_ref differs from log pi_old everywhere.
            for i in 0..<r.parameters.count { r.parameters.base[i] *= 1.02 }
            reference = r.model
        }
        let settings = PolicyLossSettings(beta: withReference ? 0.1 : 0)
        let sequences = try HandMadeTrees.sequences()
        let (lr, maxGradNorm) = (1e-2, 1.0)

        // The update as it was: a separate forward for pi_old (and pi_ref), then the epochs.
        let separate = PolicyGradient(model: twin.model, reference: reference)
        let twinOptimizer = AdamW(parameters: twin.parameters)
        let expected = try separate.lossTokens(sequences)
        var expectedLoss = 0.0
        for _ in 0..<epochs {
            expectedLoss = try separate.accumulate(sequences, lossTokens: expected, settings: settings).loss
            _ = GradientClipping.clip(separate.gradients.base, count: separate.gradients.count, maxNorm: maxGradNorm)
            twinOptimizer.update(twin.parameters, gradients: separate.gradients, lr: lr)
        }

        let updater = PolicyUpdater(model: updated.model, reference: reference, optimizer: AdamW(parameters: updated.parameters))
        let result = try updater.update(sequences, settings: settings, epochs: epochs, maxGradNorm: maxGradNorm,
                                        learningRate: lr, step: 0)

        #expect(updater.lastLossTokens == expected, "old / reference log-probabilities differ from a separate forward")
        let refDiffers = expected.joined().contains { $0.refLogProb != $0.oldLogProb }
        #expect(refDiffers == withReference, "reference log-probabilities \(withReference ? "equal" : "differ from") the old ones")
        #expect(result.loss == expectedLoss, "loss \(result.loss) against \(expectedLoss)")
        #expect(BundledModel.bits(updated.parameters) == BundledModel.bits(twin.parameters),
                "the weights after \(epochs) epoch(s) differ from the two-forward update")
        #expect(BundledModel.bits(updated.parameters) != BundledModel.bits(try WorkspaceModel.load(ws).parameters),
                "the update changed no weight")
    }
}
