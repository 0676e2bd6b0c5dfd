import Foundation

/// Learning rate per optimiser step: linear warmup, then constant or cosine decay.
///
/// `step` is the 0-based index of the update about to be taken. Warmup gives
/// `peak * (step + 1) / warmupSteps` for `step < warmupSteps`, so the first update already moves
/// (Hugging Face's schedule starts at exactly 0 and wastes one step). Cosine then goes from
/// `peak` at `step == warmupSteps` to `peak * minRatio` at `step == totalSteps - 1` and stays
/// there.
public struct LearningRateSchedule: Codable, Equatable, Sendable {
    public enum Shape: String, Codable, CaseIterable, Sendable {
        case constant, cosine
    }

    public var peak: Double
    public var warmupSteps: Int
    public var shape: Shape
    /// Needed by `cosine`: the number of updates in the run.
    public var totalSteps: Int
    /// Cosine floor as a fraction of `peak`.
    public var minRatio: Double

    public init(peak: Double, warmupSteps: Int = 0, shape: Shape = .constant, totalSteps: Int = 0, minRatio: Double = 0) {
        self.peak = peak
        self.warmupSteps = warmupSteps
        self.shape = shape
        self.totalSteps = totalSteps
        self.minRatio = minRatio
    }

    public func learningRate(step: Int) -> Double {
        if step < warmupSteps {
            return peak * Double(step + 1) / Double(warmupSteps)
        }
        switch shape {
        case .constant:
            return peak
        case .cosine:
            let decaySteps = totalSteps - 1 - warmupSteps
            guard decaySteps > 0 else { return peak }  // at most one update after warmup
            let progress = min(1, Double(step - warmupSteps) / Double(decaySteps))
            return peak * (minRatio + (1 - minRatio) * 0.5 * (1 + cos(Double.pi * progress)))
        }
    }
}
