import Foundation
import TreeRPO

/// The finetune progress bar on stderr: redrawn in place on a terminal, one line per step
/// otherwise (logs, CI). The bar follows whichever ends the run first: the step count, or the
/// sampled-token budget (a budget run's step count is only a ceiling).
final class ProgressLine {
    let totalSteps: Int
    let maxSampledTokens: Int
    let enabled: Bool
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private var drawn = false
    private let started = Date()

    init(totalSteps: Int, maxSampledTokens: Int, enabled: Bool) {
        self.totalSteps = totalSteps
        self.maxSampledTokens = maxSampledTokens
        self.enabled = enabled
    }

    func update(_ m: StepMetrics) {
        guard enabled else { return }
        let done = m.step + 1, width = 20
        var fraction = totalSteps > 0 ? Double(done) / Double(totalSteps) : 1
        var position = "step \(done)/\(totalSteps)"
        if maxSampledTokens > 0 {
            let tokenFraction = Double(m.tokensSampledTotal) / Double(maxSampledTokens)
            if tokenFraction >= fraction {
                fraction = tokenFraction
                position = String(format: "step %d, %.2fM/%.2fM tokens", done, Double(m.tokensSampledTotal) / 1e6,
                                  Double(maxSampledTokens) / 1e6)
            }
        }
        let filled = min(width, Int(fraction * Double(width)))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let seconds = m.secondsSampling + m.secondsTraining
        let rate = seconds > 0 ? Double(m.tokensSampled) / max(m.secondsSampling, 1e-9) : 0
        var line = String(format: "%@ [%@] reward %.3f  acc %.3f  groups %d/%d  loss %+.4f  kl %.4f  len %.0f  %.0f tok/s sampling  %.1fs/step",
                          position, bar, m.rewardMean, m.leafAccuracy, m.groupsKept, m.groups, m.loss, m.kl,
                          m.meanResponseTokens, rate, seconds)
        if let e = m.eval { line += String(format: "  held-out pass@1 %.3f", e.pass1) }
        if isTerminal {
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
            drawn = true
        } else {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    func finish() {
        guard enabled else { return }
        if drawn { FileHandle.standardError.write(Data("\n".utf8)) }
        let elapsed = Date().timeIntervalSince(started)
        FileHandle.standardError.write(Data(String(format: "%.1f s\n", elapsed).utf8))
        drawn = false
    }
}
