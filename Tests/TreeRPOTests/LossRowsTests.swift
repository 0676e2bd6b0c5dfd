import Foundation
import Testing
import TestSupport
import Tensors
import ModelIO
@testable import Transformer
@testable import TreeRPO

/// Issue 18: a training forward computes logits (final norm, head, log-softmax, and their
/// backward) only for the rows whose next token carries loss (`LossRows`). Against the full
/// computation (`forward(tokens:positions:mask:activations:)`, logits for every row, the loss
/// zeroing the others' gradient) on the PyTorch gradient fixtures, whose packed trees have
/// prompt rows without loss: equal within float tolerance, not bit for bit (the head's sgemm over
/// r rows rounds some logits 1 ulp away from the n-row product; the tests print how many
/// elements differ and by how much). The gradients also stay within the PyTorch fixtures'
/// tolerance. Through the trainer, three steps sample the same tokens either way.
@Suite struct LossRowsTests {
    @Test func rowsAreTheDistinctLossRowsAscendingAndTokensAreRenumbered() {
        let tokenRows: [Int32] = [7, 3, 3, 9, 4]
        let rows = LossRows(tokenRows)
        #expect(rows.rows == [3, 4, 7, 9])
        let tokens = tokenRows.map { LossToken(row: $0, token: 1, advantage: 0, oldLogProb: 0, weight: 1) }
        #expect(rows.compact(tokens).map(\.row) == [2, 0, 0, 3, 1])
        #expect(LossRows([]).rows.isEmpty)
        #expect(LossRows(every: 3).rows == [0, 1, 2])
        let few = [Int32(2), 0].map { LossToken(row: $0, token: 1, advantage: 0, oldLogProb: 0, weight: 1) }
        #expect(LossRows(every: 3).compact(few) == few)
    }

    @Test func logitRowsMustAscendInsideTheSequence() throws {
        let (f, _, model) = try PackedTreeGradientTests.load("llama")
        let acts = Activations(config: model.config, capacity: f.tokens.count, keepsLayers: true)
        let mask = try AttentionMask(parents: f.parents)
        for bad: [Int32] in [[2, 1], [1, 1], [Int32(f.tokens.count)], [-1]] {
            #expect(throws: ModelError.self, "logit rows \(bad)") {
                try model.forward(tokens: f.tokens, positions: f.positions, mask: mask, logitRows: bad, activations: acts)
            }
        }
    }

    /// Forward, loss and backward of a fixture, with logits for every row or for `rows` only.
    static func step(_ model: TransformerModel, _ f: PackedTreeGradientTests.Fixture, rows: LossRows?,
                     gradients: Parameters) throws -> (stats: PolicyLossStats, logits: [Float]) {
        let acts = Activations(config: model.config, capacity: f.tokens.count, keepsLayers: true)
        let mask = try AttentionMask(parents: f.parents), vocab = model.config.vocabSize
        let tokens = f.lossTokenValues
        if let rows {
            try model.forward(tokens: f.tokens, positions: f.positions, mask: mask, logitRows: rows.rows, activations: acts)
        } else {
            try model.forward(tokens: f.tokens, positions: f.positions, mask: mask, activations: acts)
        }
        // The rows the loss reads, in loss-row order, before the loss overwrites them.
        let read = rows.map { r in r.rows.indices.map { $0 } } ?? LossRows(tokens.map(\.row)).rows.map { Int($0) }
        let logits = read.flatMap { Array(UnsafeBufferPointer(start: acts.logits + $0 * vocab, count: vocab)) }
        let stats = PolicyLoss.lossAndGradient(logits: acts.logits, rows: rows?.rows.count ?? f.tokens.count, vocab: vocab,
                                               tokens: rows?.compact(tokens) ?? tokens, settings: f.lossSettings)
        try model.backward(tokens: f.tokens, positions: f.positions, mask: mask, activations: acts, gradients: gradients)
        return (stats, logits)
    }

    @Test(arguments: ["llama", "qwen2", "qwen3", "gpt2", "llama_biases"], [1, 2])
    func lossRowsOnlyChangeNoLossOrGradient(family: String, threads: Int) throws {
        let (f, torch, model) = try PackedTreeGradientTests.load(family)
        let rows = LossRows(f.lossTokenValues.map(\.row))
        #expect(rows.rows.count < f.tokens.count, "\(family): every row has loss, so nothing is skipped")
        let full = model.parameters.zerosLike(), compact = model.parameters.zerosLike()
        let (a, b) = try Compute.withThreads(threads) {
            (try Self.step(model, f, rows: nil, gradients: full), try Self.step(model, f, rows: rows, gradients: compact))
        }
        // Not bit-equal: OpenBLAS's sgemm of r rows rounds some logits 1 ulp away from its n-row
        // product (measured; the loss and log-softmax of each row are the same code).
        expectClose(b.logits, a.logits, Tolerance(relative: 1e-6, ofLargest: 1e-6), "\(family): the loss rows' logits")
        // The loss sums terms of both signs (advantages +-), so its relative error is a few
        // times the logits' (measured worst 2.4e-6, llama).
        #expect(abs(b.stats.loss - a.stats.loss) <= 1e-5 * abs(a.stats.loss), "\(family): loss \(b.stats.loss) against the full \(a.stats.loss)")
        expectClose(b.stats.newLogProbs, a.stats.newLogProbs, Tolerance(absolute: 1e-6, relative: 1e-6), "\(family): new log-probs")
        #expect(a.stats.clipFraction == b.stats.clipFraction, "\(family): clip fraction")
        #expect(abs(a.stats.entropyMean - b.stats.entropyMean) <= 1e-6 * abs(a.stats.entropyMean), "\(family): entropy mean")
        #expect(abs(a.stats.klMean - b.stats.klMean) <= 1e-5 * abs(a.stats.klMean), "\(family): KL mean")
        var differing = 0, worst = 0.0
        for spec in full.specs {
            let want = UnsafeBufferPointer(start: full[spec.name], count: spec.count)
            let ours = UnsafeBufferPointer(start: compact[spec.name], count: spec.count)
            differing += zip(want, ours).filter { $0.bitPattern != $1.bitPattern }.count
            // Against PyTorch as the fixture test holds the full computation, and against the full one.
            var toTorch = NumericComparison(PackedTreeGradientTests.gradientTolerance)
            toTorch.add(ours, try torch.floats(spec.name))
            toTorch.expectPasses("\(family) gradient of \(spec.name), loss rows only, vs torch; \(PackedTreeGradientTests.regenerate)")
            if want.contains(where: { $0 != 0 }) {
                var toFull = NumericComparison(Self.gradientTolerance)
                toFull.add(ours, want)
                toFull.expectPasses("\(family) gradient of \(spec.name), loss rows only vs every row")
                worst = max(worst, toFull.relativeError)
            } else {
                #expect(ours.allSatisfy { $0 == 0 }, "\(family) gradient of \(spec.name): zero with every row, not with loss rows only")
            }
        }
        print("\(family), \(threads) thread(s): logits for \(rows.rows.count) of \(f.tokens.count) rows; logits \(zip(a.logits, b.logits).filter { $0.bitPattern != $1.bitPattern }.count) of \(a.logits.count) and gradients \(differing) of \(full.count) elements not bit-equal to the full computation, worst gradient |diff| / max |full| \(worst)")
    }

    /// Gradients with loss rows only against every row: about 7x the measured worst (1.5e-6 x
    /// max |full|, llama).
    static let gradientTolerance = Tolerance(relative: 1e-5, ofLargest: 1e-5)

    /// Three trainer steps with logits for the loss rows only and with logits for every row (the
    /// computation before), one thread: every step samples the same tokens, the losses agree, and
    /// no weight differs by more than two AdamW steps can make it (lr per element per step each).
    @Test func trainerStepsSampleTheSameTokens() throws {
        let root = try BundledModel.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let ws = try BundledModel.workspace(in: root)
        let config = BundledModel.smallConfig(steps: 3)
        var runs: [(tokens: [[[[Int]]]], losses: [Double], weights: [Float])] = []
        for everyRow in [false, true] {
            let trainer = try Trainer(workspace: ws, config: config, runName: "rows-\(everyRow)", resume: false)
            trainer.updater.policyGradient.logitsForEveryRow = everyRow
            var sampled: [[[[Int]]]] = []
            trainer.rewriteAdvantages = { trees in sampled.append(trees.map { $0.nodes.map(\.tokens) }) }
            var losses: [Double] = []
            try Compute.withThreads(1) { try trainer.run { losses.append($0.loss) } }
            runs.append((sampled, losses, Array(UnsafeBufferPointer(start: trainer.model.parameters.base, count: trainer.model.parameters.count))))
        }
        #expect(runs[0].tokens.count == 3 && runs[0].tokens.joined().joined().contains { !$0.isEmpty })
        let stepsDiffering = zip(runs[0].tokens, runs[1].tokens).enumerated().filter { $1.0 != $1.1 }.map(\.offset)
        #expect(runs[0].tokens.count == runs[1].tokens.count && stepsDiffering.isEmpty, "the sampled tokens differ at steps \(stepsDiffering)")
        expectClose(runs[0].losses, runs[1].losses, Tolerance(absolute: 1e-6), "step losses, loss rows only vs every row")
        let bound = 2 * config.learningRate * Double(config.steps)
        expectClose(runs[0].weights, runs[1].weights, Tolerance(absolute: bound), "weights after three steps")
        let worst = zip(runs[0].weights, runs[1].weights).map { abs($0 - $1) }.max() ?? 0
        print("trainer, loss rows only vs every row: losses \(runs[0].losses) and \(runs[1].losses); \(zip(runs[0].weights, runs[1].weights).filter { $0 != $1 }.count) of \(runs[0].weights.count) weights differ, by at most \(worst)")
    }
}
