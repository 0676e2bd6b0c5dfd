import Foundation
import Testing
import TestSupport
@testable import Sampling

/// `SamplerChain.drawFromSoftmax`, the chain without processors (temperature 1, no top-k/p),
/// against the softmax it draws from, computed here in Double.
@Suite struct SoftmaxDrawTests {
    /// Seeded logits in [-6, 6), with some -inf (tokens that must never be drawn).
    static func logits(_ n: Int, seed: UInt64) -> [Float] {
        var rng = RandomStream(seed: seed)
        return (0..<n).map { i in i % 17 == 5 ? -.infinity : 12 * rng.nextUnitFloat() - 6 }
    }

    /// Each draw lands in the token's interval of the softmax CDF computed in Double (from the
    /// same uniform number), and its log-probability is the Double log-softmax. The general
    /// path's one-by-one Float cumulative sum drifts by about vocab x 6e-8 of the total, a
    /// token's whole share at 4K tokens, so it is no reference here; the Double CDF is.
    @Test(arguments: [1000, 4099, 13])
    func drawsLandInTheirCDFIntervalWithTheirLogProb(vocab: Int) {
        let x = Self.logits(vocab, seed: UInt64(vocab))
        let m = Double(x.max()!)
        let weights = x.map { exp(Double($0) - m) }, z = weights.reduce(0, +)
        var cdf = [0.0]
        for w in weights { cdf.append(cdf.last! + w / z) }
        #expect(SamplerChain(temperature: 1).processors.isEmpty)
        var rng = RandomStream(seed: 3)
        var worstInterval = 0.0, logProbs = NumericComparison(Tolerance(absolute: 1e-5))
        x.withUnsafeBufferPointer { p in
            for _ in 0..<3000 {
                var probe = rng
                let unit = Double(probe.nextUnitFloat())
                let f = SamplerChain.drawFromSoftmax(p.baseAddress!, vocab: vocab, rng: &rng)
                #expect(x[f.id] > -.infinity)
                // Distance of the uniform number outside the drawn token's interval (0 inside).
                worstInterval = max(worstInterval, cdf[f.id] - unit, unit - cdf[f.id + 1])
                logProbs.add(Double(f.samplingLogprob), Double(x[f.id]) - m - log(z))
                // The sampling log-probability is the model's own, bit for bit.
                #expect(f.samplingLogprob == modelLogProb(p.baseAddress!, vocab: vocab, id: f.id))
            }
        }
        #expect(worstInterval <= 2e-6, "a draw fell \(worstInterval) outside its token's CDF interval")
        logProbs.expectPasses("sampling log-prob vs the Double log-softmax")
    }

    /// The general path (here temperature 0.7, the chain's processors on `Candidates`) also lands
    /// each draw in its token's interval of the tempered softmax CDF computed in Double.
    @Test(arguments: [4099, 49_152])
    func temperedDrawsLandInTheirCDFInterval(vocab: Int) {
        let x = Self.logits(vocab, seed: UInt64(vocab) + 1)
        let t = 0.7
        let m = Double(x.max()!) / t
        let weights = x.map { exp(Double($0) / t - m) }, z = weights.reduce(0, +)
        let chain = SamplerChain(temperature: Float(t))
        #expect(!chain.processors.isEmpty)
        let scratch = Candidates(vocab: vocab)
        var rng = RandomStream(seed: 5)
        var worstInterval = 0.0, logProbs = NumericComparison(Tolerance(absolute: 1e-4))
        x.withUnsafeBufferPointer { p in
            for _ in 0..<300 {
                var probe = rng
                let unit = Double(probe.nextUnitFloat())
                let f = chain.sample(p.baseAddress!, vocab: vocab, rng: &rng, scratch: scratch)
                #expect(x[f.id] > -.infinity)
                // Candidates keep vocabulary order under temperature alone, so the CDF is in id order.
                let below = weights[..<f.id].reduce(0, +) / z
                worstInterval = max(worstInterval, below - unit, unit - (below + weights[f.id] / z))
                logProbs.add(Double(f.samplingLogprob), Double(x[f.id]) / t - m - log(z))
            }
        }
        #expect(worstInterval <= 2e-6, "a draw fell \(worstInterval) outside its token's CDF interval")
        logProbs.expectPasses("tempered sampling log-prob vs the Double log-softmax")
    }

    /// Draw frequencies match softmax(logits) (a vocabulary not a multiple of 8: the tail block).
    @Test func frequenciesFollowTheSoftmax() {
        let x: [Float] = [0.5, -1, 2, -.infinity, 0, 1.5, -3, 0.25, 1, -0.5, 3, -2, 0.75]
        let m = x.max()!, z = x.reduce(0) { $0 + exp(Double($1 - m)) }
        var rng = RandomStream(seed: 11)
        var counts = [Int](repeating: 0, count: x.count)
        let draws = 40_000
        x.withUnsafeBufferPointer { p in
            for _ in 0..<draws { counts[SamplerChain.drawFromSoftmax(p.baseAddress!, vocab: x.count, rng: &rng).id] += 1 }
        }
        for i in x.indices {
            let p = exp(Double(x[i] - m)) / z, seen = Double(counts[i]) / Double(draws)
            // 4.5 standard deviations of a binomial frequency.
            #expect(abs(seen - p) <= 4.5 * (p * (1 - p) / Double(draws)).squareRoot() + 1e-9, "token \(i): p \(p), seen \(seen)")
        }
        #expect(counts[3] == 0)
    }
}
