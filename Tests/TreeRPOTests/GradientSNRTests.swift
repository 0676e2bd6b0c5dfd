import Foundation
import Testing
import TestSupport
@testable import TreeRPO

/// The statistics of the gradient diagnostic (`ReferenceGradient`, `GradientSNR`) on vectors
/// worked by hand, and on synthetic estimates whose true signal-to-noise ratio is known.
@Suite struct GradientSNRTests {
    func expectNear(_ x: Double?, _ y: Double, _ what: String, tolerance: Double = 1e-6,
                    sourceLocation: SourceLocation = #_sourceLocation) {
        guard let x else {
            Issue.record("\(what): nil, expected \(y)", sourceLocation: sourceLocation)
            return
        }
        #expect(abs(x - y) <= tolerance * max(1, abs(y)), "\(what): \(x), expected \(y)", sourceLocation: sourceLocation)
    }

    func project(_ reference: ReferenceGradient, _ estimate: [Float]) -> GradientProjection {
        estimate.withUnsafeBufferPointer { reference.project($0) }
    }

    /// Reference (3, 4): |g_ref| = 5, u = (0.6, 0.8).
    ///   g1 = (3, 4):     s = (9 + 16) / 5 = 5,       cosine 1
    ///   g2 = (0.6, 0.8): s = (1.8 + 3.2) / 5 = 1,    cosine 1
    ///   g3 = (4, -3):    s = (12 - 12) / 5 = 0,      cosine 0
    /// m = (5 + 1 + 0) / 3 = 2; v = ((5-2)^2 + (1-2)^2 + (0-2)^2) / 2 = (9 + 1 + 4) / 2 = 7.
    /// m^2 / v = 4/7; SNR = 4/7 - 1/3 = 5/21.
    /// Tokens 10, 20, 30: mean 20, SNR per 1k tokens = 1000 (5/21) / 20 = 250/21.
    /// Jackknife, SNR without one estimate (two left, so - 1/2):
    ///   without 5: {1, 0}: m 1/2, v 1/2,  1/2 - 1/2 = 0
    ///   without 1: {5, 0}: m 5/2, v 25/2, 1/2 - 1/2 = 0
    ///   without 0: {5, 1}: m 3,   v 8,    9/8 - 1/2 = 5/8
    ///   their mean 5/24; deviations -5/24, -5/24, 10/24; sum of squares 150/576;
    ///   s.e. = sqrt(2/3 * 150/576) = sqrt(100/576) = 10/24 = 5/12; per 1k tokens 5/12 * 50 = 125/6.
    /// Mean cosine (1 + 1 + 0) / 3 = 2/3.
    @Test func givenVectorsGiveTheNumbersWorkedByHand() throws {
        let reference = try ReferenceGradient([3, 4])
        #expect(reference.norm == 5)
        let projections = [project(reference, [3, 4]), project(reference, [0.6, 0.8]), project(reference, [4, -3])]
        expectNear(projections[0].signal, 5, "s1")
        expectNear(projections[1].signal, 1, "s2")
        expectNear(projections[2].signal, 0, "s3")
        expectNear(projections[0].cosine, 1, "cosine 1")
        expectNear(projections[1].cosine, 1, "cosine 2")
        expectNear(projections[2].cosine, 0, "cosine 3")

        let snr = try GradientSNR(projections: projections, tokens: [10, 20, 30])
        #expect(snr.estimates == 3)
        expectNear(snr.meanTokens, 20, "mean tokens")
        expectNear(snr.meanSignal, 2, "mean signal")
        expectNear(snr.signalVariance, 7, "variance")
        expectNear(snr.snrUncorrected, 4.0 / 7, "m^2 / v")
        expectNear(snr.snr, 5.0 / 21, "SNR")
        expectNear(snr.snrStandardError, 5.0 / 12, "jackknife s.e.")
        expectNear(snr.snrPerThousandTokens, 250.0 / 21, "SNR per 1k tokens")
        expectNear(snr.snrPerThousandTokensStandardError, 125.0 / 6, "its s.e.")
        expectNear(snr.meanCosine, 2.0 / 3, "mean cosine")
    }

    @Test func aZeroEstimateHasCosineZeroAndDegenerateInputsAreRefused() throws {
        let reference = try ReferenceGradient([1, -2, 2])
        let zero = project(reference, [0, 0, 0])
        #expect(zero.signal == 0 && zero.cosine == 0)
        // Every estimate alike: no spread, so no ratio (and no standard error).
        let same = try GradientSNR(projections: Array(repeating: GradientProjection(signal: 1, cosine: 1), count: 4), tokens: [1, 1, 1, 1])
        #expect(same.snr == nil && same.snrUncorrected == nil && same.snrStandardError == nil && same.snrPerThousandTokens == nil)

        #expect { _ = try ReferenceGradient([0, 0]) } throws: { "\($0)".contains("the reference gradient is zero") }
        #expect { _ = try ReferenceGradient([1, .nan]) } throws: { "\($0)".contains("not finite") }
        let two = [GradientProjection(signal: 1, cosine: 1), GradientProjection(signal: 2, cosine: 1)]
        #expect { _ = try GradientSNR(projections: two, tokens: [1, 1]) } throws: { "\($0)".contains("at least 3 estimates, got 2") }
        #expect { _ = try GradientSNR(projections: two + two, tokens: [1]) } throws: { "\($0)".contains("expected the tokens of each of the 4 estimates") }
    }

    /// Synthetic estimates g = mu + noise, noise uniform in [-1, 1) per coordinate (variance 1/3),
    /// measured against the reference mu itself: the signal along u = mu / |mu| has mean |mu| and
    /// variance 1/3, so the true SNR of one draw is 3 |mu|^2, and of an average of n draws
    /// 3 n |mu|^2. With |mu|^2 = 1/12: 0.25 for one draw, 1.0 for four.
    static func syntheticSNR(drawsPerEstimate n: Int, estimates: Int, seed: UInt64) throws -> GradientSNR {
        let dimension = 16
        var rng = TestRNG(seed: seed)
        // mu along a fixed random direction, scaled to |mu|^2 = 1/12.
        let direction = (0..<dimension).map { _ in rng.unit() * 2 - 1 }
        let length = direction.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let mu = direction.map { $0 / length * (1.0 / 12).squareRoot() }
        let reference = try ReferenceGradient(mu.map(Float.init))
        var projections: [GradientProjection] = []
        for _ in 0..<estimates {
            var sum = [Double](repeating: 0, count: dimension)
            for _ in 0..<n {
                for i in 0..<dimension { sum[i] += mu[i] + (rng.unit() * 2 - 1) }
            }
            projections.append(sum.map { Float($0 / Double(n)) }.withUnsafeBufferPointer { reference.project($0) })
        }
        return try GradientSNR(projections: projections, tokens: Array(repeating: 100 * n, count: estimates))
    }

    /// The SNR of an average of n independent estimates is n times the SNR of one, and the
    /// estimate recovers the true value; per sampled token the two are equal (an estimate of n
    /// draws costs n times the tokens). With 4,000 estimates the SNR's relative standard error is
    /// about 7% (0.25) and 5% (1.0); the bounds are 15%.
    @Test func snrGrowsLinearlyWithTheDrawsAveragedAndPerTokenItStaysTheSame() throws {
        let one = try Self.syntheticSNR(drawsPerEstimate: 1, estimates: 4_000, seed: 11)
        let four = try Self.syntheticSNR(drawsPerEstimate: 4, estimates: 4_000, seed: 12)
        print("synthetic SNR: one draw \(one.snr!) (true 0.25), four draws \(four.snr!) (true 1.0)")
        #expect(abs(one.snr! / 0.25 - 1) < 0.15, "SNR of one draw: \(one.snr!), true 0.25")
        #expect(abs(four.snr! / 1.0 - 1) < 0.15, "SNR of an average of four: \(four.snr!), true 1.0")
        let ratio = four.snr! / one.snr!
        #expect(ratio > 3.2 && ratio < 4.8, "SNR(4 draws) / SNR(1 draw) = \(ratio), expected about 4")
        let perToken = four.snrPerThousandTokens! / one.snrPerThousandTokens!
        #expect(perToken > 0.8 && perToken < 1.2, "per 1k tokens the ratio is \(perToken), expected about 1")
        // The jackknife's standard error is of the size the spread of the estimate implies.
        #expect(one.snrStandardError! > 0.005 && one.snrStandardError! < 0.05, "s.e. \(one.snrStandardError!)")
    }

    /// With no signal at all (estimates of zero mean against an arbitrary reference), m^2 / v
    /// reads about 1/M, noise of the mean taken for signal; the corrected SNR reads near 0.
    /// For normal signals E[m^2 / v] = (M - 1) / (M (M - 3)) = 0.129 at M = 10, so the corrected
    /// mean would be 0.029; these signals are uniform (the first coordinate), measured 0.142 and
    /// 0.042 over 2,000 repetitions (standard error about 0.005).
    @Test func withoutSignalTheCorrectedSNRReadsNearZero() throws {
        var rng = TestRNG(seed: 5)
        let reference = try ReferenceGradient([1, 0, 0])
        var plain = 0.0, corrected = 0.0
        let repetitions = 2_000
        for _ in 0..<repetitions {
            let projections = (0..<10).map { _ in
                [Float(rng.unit() * 2 - 1), Float(rng.unit() * 2 - 1), Float(rng.unit() * 2 - 1)].withUnsafeBufferPointer { reference.project($0) }
            }
            let snr = try GradientSNR(projections: projections, tokens: Array(repeating: 1, count: 10))
            plain += snr.snrUncorrected! / Double(repetitions)
            corrected += snr.snr! / Double(repetitions)
        }
        print("no signal, M = 10: mean m^2/v \(plain), mean corrected SNR \(corrected)")
        #expect(plain > 0.1, "m^2 / v without signal: \(plain), expected about 0.13")
        #expect(abs(corrected) < 0.07, "corrected SNR without signal: \(corrected), expected about 0.04")
    }
}
