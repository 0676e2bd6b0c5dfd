import Foundation
import Testing
import TestSupport
@testable import TreeRPO

/// PolicyLoss on its own: its gradient against central finite differences of its own loss,
/// and the bookkeeping (empty rows, statistics). Its values against PyTorch are checked in
/// PackedTreeGradientTests.
@Suite struct PolicyLossTests {
    static let rows = 6, vocab = 13

    /// Logits in [-3, 3) and eight tokens; rows 1 and 3 are shared (siblings), row 4 unused.
    /// Old log-probs sit away from both clip boundaries by more than a finite-difference step
    /// can move them, so the loss is smooth where it is differentiated.
    static func problem(beta: Float) -> (logits: [Float], tokens: [LossToken], settings: PolicyLossSettings) {
        var rng = SplitMix64(seed: 77)
        let logits = (0..<(rows * vocab)).map { _ in Float(rng.int(in: 0...5999)) / 1000 - 3 }
        let rowsOf: [Int32] = [0, 1, 1, 2, 3, 3, 3, 5]
        let ids: [Int32] = [4, 0, 12, 7, 1, 5, 9, 3]
        let advantages: [Float] = [1, 0.5, -1, 2, -0.7, 1.3, -0.2, 0.9]
        // log rho = -delta: inside (|.| <= 0.08) or clearly outside [log 0.8, log 1.28].
        let deltas: [Float] = [0.05, -0.4, 0.45, -0.08, 0.5, -0.5, 0.02, 0.38]
        let weights: [Float] = [0.1, 0.2, 0.05, 0.15, 0.1, 0.1, 0.2, 0.1]
        var tokens = (0..<8).map { k in
            LossToken(row: rowsOf[k], token: ids[k], advantage: advantages[k], oldLogProb: 0,
                      refLogProb: 0, weight: weights[k])
        }
        let current = logits.withUnsafeBufferPointer { PolicyLoss.logProbs(logits: $0.baseAddress!, vocab: vocab, tokens: tokens) }
        for k in tokens.indices {
            tokens[k].oldLogProb = current[k] + deltas[k]
            tokens[k].refLogProb = current[k] + Float(k % 3) * 0.3 - 0.3
        }
        return (logits, tokens, PolicyLossSettings(epsLow: 0.2, epsHigh: 0.28, beta: beta))
    }

    static func run(_ logits: [Float], _ tokens: [LossToken], _ settings: PolicyLossSettings) -> (PolicyLossStats, [Float]) {
        var copy = logits
        let stats = copy.withUnsafeMutableBufferPointer {
            PolicyLoss.lossAndGradient(logits: $0.baseAddress!, rows: rows, vocab: vocab, tokens: tokens, settings: settings)
        }
        return (stats, copy)
    }

    @Test(arguments: [Float(0), 0.1])
    func gradientMatchesCentralDifferences(beta: Float) {
        let (logits, tokens, settings) = Self.problem(beta: beta)
        let (_, gradient) = Self.run(logits, tokens, settings)
        let h: Float = 1e-2
        let differences = logits.indices.map { i -> Double in
            var plus = logits, minus = logits
            plus[i] += h
            minus[i] -= h
            return (Self.run(plus, tokens, settings).0.loss - Self.run(minus, tokens, settings).0.loss) / Double(2 * h)
        }
        // Float32 log-probs (~3e-7 rounding) over a step of 0.02 and the O(h^2) term: ~1e-4.
        var cmp = NumericComparison(.ofLargest(2e-3))
        cmp.add(gradient, differences)
        cmp.expectPasses("beta \(beta): analytic gradient vs central differences")
        #expect(cmp.largestReference > 0.01, "beta \(beta): max |gradient| \(cmp.largestReference) is too small to test anything")
    }

    @Test func unusedRowsGetZeroGradientAndStatisticsCount() {
        let (logits, tokens, settings) = Self.problem(beta: 0)
        let (stats, gradient) = Self.run(logits, tokens, settings)
        #expect(gradient[(4 * Self.vocab)..<(5 * Self.vocab)].allSatisfy { $0 == 0 })
        // Each used row's gradient sums to zero (onehot minus softmax, scaled).
        for r in [0, 1, 2, 3, 5] {
            let sum = gradient[(r * Self.vocab)..<((r + 1) * Self.vocab)].reduce(0, +)
            #expect(abs(sum) < 1e-6, "row \(r) gradient sums to \(sum)")
        }
        // rho = exp(-delta). Clip active: A > 0 with rho > 1.28 (token 1: rho 1.49; token 5: 1.65)
        // and A < 0 with rho < 0.8 (token 2: 0.64; token 4: 0.61). Token 7 (A 0.9, rho 0.68) is
        // outside the range but not clipped: the min keeps rho A.
        #expect(stats.clipFraction == 4.0 / 8.0, "clip fraction \(stats.clipFraction)")
        #expect(stats.klMean == 0, "beta 0 reports no KL")
        #expect(stats.tokens == 8 && stats.newLogProbs.count == 8)
        #expect(stats.entropyMean > 0 && stats.entropyMean < log(Double(Self.vocab)))
    }
}
