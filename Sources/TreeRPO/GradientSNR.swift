import Foundation

/// The direction a gradient estimator should point to: a reference gradient g_ref (in the
/// diagnostic, the plain policy gradient averaged over many samples), `[parameters]`.
public struct ReferenceGradient: Sendable {
    public let vector: [Float]
    /// |g_ref|, accumulated in Double.
    public let norm: Double

    /// Refuses a zero or non-finite reference: it gives no direction to measure against.
    public init(_ vector: [Float]) throws {
        let norm = vector.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        guard norm.isFinite else { throw GradientDiagnosticError("the reference gradient is not finite (norm \(norm))") }
        guard norm > 0 else {
            throw GradientDiagnosticError("the reference gradient is zero: on every question all the reference answers got the same reward, so no direction improves the reward; use questions the model solves sometimes (more questions, or another data seed)")
        }
        self.vector = vector
        self.norm = norm
    }

    /// The estimate's signal along the reference, s = <g, g_ref> / |g_ref|, and its cosine to
    /// the reference, <g, g_ref> / (|g| |g_ref|): 0 for a zero estimate, which points nowhere.
    /// `estimate` is `[parameters]`.
    public func project(_ estimate: UnsafeBufferPointer<Float>) -> GradientProjection {
        precondition(estimate.count == vector.count,
                     "ReferenceGradient.project: the estimate has \(estimate.count) entries, the reference \(vector.count)")
        var dot = 0.0, squares = 0.0
        vector.withUnsafeBufferPointer { r in
            for i in 0..<r.count {
                let g = Double(estimate[i])
                dot += g * Double(r[i])
                squares += g * g
            }
        }
        let length = squares.squareRoot()
        return GradientProjection(signal: dot / norm, cosine: length > 0 ? dot / (length * norm) : 0)
    }
}

/// One estimate seen from the reference: its signal s = <g, u> (u the reference's unit vector)
/// and its cosine to the reference.
public struct GradientProjection: Equatable, Sendable {
    public var signal: Double
    public var cosine: Double

    public init(signal: Double, cosine: Double) {
        self.signal = signal
        self.cosine = cosine
    }
}

/// The signal-to-noise ratio of one gradient estimator, from the projections of its M
/// independent estimates onto the reference and the tokens each estimate sampled
/// (docs/method.md "Gradient signal-to-noise"):
///
///     m   = mean s_i,   v = sum_i (s_i - m)^2 / (M - 1)
///     SNR = m^2 / v - 1 / M
///     SNR per 1k tokens = 1000 SNR / mean tokens
///
/// `m^2 / v` alone overstates the SNR by about 1/M, because E[m^2] = mu^2 + sigma^2 / M: the
/// noise of the mean itself looks like signal. `m^2 - v / M` estimates mu^2 without that bias, so
/// an estimator with no signal reads about 0 (and can read below it). The SNR of an average of n
/// independent estimates is n times the SNR of one, so dividing by the tokens an estimate cost
/// compares estimators at equal sampling cost. Standard errors come from the jackknife (the
/// SNR recomputed leaving out each estimate in turn).
public struct GradientSNR: Codable, Equatable, Sendable {
    /// M.
    public var estimates: Int
    /// Tokens sampled per estimate, on average.
    public var meanTokens: Double
    /// m: the mean signal along the reference.
    public var meanSignal: Double
    /// v: the sample variance of the signal.
    public var signalVariance: Double
    /// m^2 / v; nil when every estimate has the same signal (v = 0).
    public var snrUncorrected: Double?
    /// m^2 / v - 1 / M; nil when v = 0.
    public var snr: Double?
    /// The jackknife standard error of `snr`; nil when some estimate left out leaves v = 0.
    public var snrStandardError: Double?
    /// 1000 snr / meanTokens.
    public var snrPerThousandTokens: Double?
    public var snrPerThousandTokensStandardError: Double?
    /// Mean cosine between an estimate and the reference.
    public var meanCosine: Double

    /// Needs at least three estimates (a variance, and a variance with one left out).
    public init(projections: [GradientProjection], tokens: [Int]) throws {
        guard projections.count >= 3 else {
            throw GradientDiagnosticError("the signal-to-noise ratio needs at least 3 estimates, got \(projections.count)")
        }
        guard tokens.count == projections.count else {
            throw GradientDiagnosticError("expected the tokens of each of the \(projections.count) estimates, got \(tokens.count)")
        }
        let signals = projections.map(\.signal)
        estimates = signals.count
        meanTokens = Double(tokens.reduce(0, +)) / Double(tokens.count)
        meanSignal = Self.mean(signals)
        signalVariance = Self.sampleVariance(signals)
        snrUncorrected = signalVariance > 0 ? meanSignal * meanSignal / signalVariance : nil
        snr = Self.correctedSNR(signals)
        snrStandardError = Self.jackknifeStandardError(signals)
        let perThousand = meanTokens > 0 ? 1000 / meanTokens : 0
        snrPerThousandTokens = snr.map { $0 * perThousand }
        snrPerThousandTokensStandardError = snrStandardError.map { $0 * perThousand }
        meanCosine = Self.mean(projections.map(\.cosine))
    }

    static func mean(_ xs: [Double]) -> Double { xs.reduce(0, +) / Double(xs.count) }

    /// With Bessel's correction; 0 for fewer than two values.
    static func sampleVariance(_ xs: [Double]) -> Double {
        guard xs.count >= 2 else { return 0 }
        let m = mean(xs)
        return xs.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(xs.count - 1)
    }

    /// m^2 / v - 1 / M of `signals`; nil when v = 0.
    static func correctedSNR(_ signals: [Double]) -> Double? {
        let v = sampleVariance(signals)
        guard v > 0 else { return nil }
        let m = mean(signals)
        return m * m / v - 1 / Double(signals.count)
    }

    /// sqrt((M - 1) / M * sum_i (SNR_(i) - mean_j SNR_(j))^2), SNR_(i) the corrected SNR
    /// without estimate i.
    static func jackknifeStandardError(_ signals: [Double]) -> Double? {
        var leftOut: [Double] = []
        for i in signals.indices {
            var others = signals
            others.remove(at: i)
            guard let snr = correctedSNR(others) else { return nil }
            leftOut.append(snr)
        }
        let m = mean(leftOut)
        let n = Double(signals.count)
        return ((n - 1) / n * leftOut.reduce(0) { $0 + ($1 - m) * ($1 - m) }).squareRoot()
    }
}
