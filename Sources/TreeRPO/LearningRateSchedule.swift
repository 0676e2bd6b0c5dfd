import Foundation

/// Learning rate per optimiser step: linear warmup, then constant or cosine decay.
///
/// `step` is the 0-based index of the update about to be taken. Warmup gives
/// `peak * (step + 1) / warmupSteps` for `step < warmupSteps`, so the first update already moves
/// (Hugging Face's schedule starts at exactly 0 and wastes one step). Cosine then goes from
/// `peak` at `step == warmupSteps` to `peak * minRatio` at `step == totalSteps - 1` and stays
/// there. A run that stops at a sampled-token budget decays over the share of the budget spent
/// instead (`learningRate(step:progress:)`), so its schedule ends where the run ends.
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

    /// The rate of update `step` in a run that ends after `totalSteps` updates.
    public func learningRate(step: Int) -> Double {
        let decaySteps = totalSteps - 1 - warmupSteps
        // At most one update after warmup: it takes the peak (a run of one update should move).
        let progress = decaySteps > 0 ? Double(step - warmupSteps) / Double(decaySteps) : 0
        return learningRate(step: step, progress: progress)
    }

    /// The rate of update `step` when the run's length is known as a share done rather than a
    /// step count (a run that stops at a sampled-token budget): `progress` is 0 at the first
    /// update after warmup and 1 at the last; cosine decays over it. Warmup stays in steps.
    public func learningRate(step: Int, progress: Double) -> Double {
        if step < warmupSteps {
            return peak * Double(step + 1) / Double(warmupSteps)
        }
        switch shape {
        case .constant:
            return peak
        case .cosine:
            let p = min(1, max(0, progress))
            return peak * (minRatio + (1 - minRatio) * 0.5 * (1 + cos(Double.pi * p)))
        }
    }

    /// The learning rate of the last update.
    public var endValue: Double { shape == .cosine ? peak * minRatio : peak }
}
