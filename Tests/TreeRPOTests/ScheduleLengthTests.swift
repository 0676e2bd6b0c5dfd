import Foundation
import Testing
@testable import TreeRPO

/// The learning-rate schedule runs over the run's real length: `--steps`, or the sampled-token
/// budget when that ends the run first.
@Suite(.serialized) struct ScheduleLengthTests {
    @Test func tokenBudgetSetsTheProgress() {
        var c = TrainingConfig()
        c.learningRate = 1
        c.schedule = .cosine
        c.minLearningRateRatio = 0.1
        c.steps = 100_000
        c.maxSampledTokens = 1_000
        // Before any token: the peak. Half the budget sampled before the step: cos(pi/2) -> .55.
        #expect(c.learningRate(step: 0, tokensSampledBefore: 0, tokensSampledAfter: 100) == 1)
        #expect(abs(c.learningRate(step: 5, tokensSampledBefore: 500, tokensSampledAfter: 600) - 0.55) < 1e-12)
        // The step that spends the budget is the last: the end value, not a value near the peak
        // as a schedule over 100,000 steps would give.
        #expect(abs(c.learningRate(step: 9, tokensSampledBefore: 900, tokensSampledAfter: 1_000) - 0.1) < 1e-12)
        // A step limit that comes first still ends the schedule.
        c.steps = 5
        #expect(abs(c.learningRate(step: 4, tokensSampledBefore: 100, tokensSampledAfter: 200) - 0.1) < 1e-12)
    }

    /// A real budget run of the bundled model with `steps` set huge: the first update has the
    /// peak, the rate never rises, and the last update has the schedule's end value.
    @Test func budgetRunEndsAtTheScheduleEnd() throws {
        let root = try BundledModel.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let ws = try BundledModel.workspace(in: root)
        var c = BundledModel.smallConfig(steps: 100_000)
        c.maxSampledTokens = 1_500
        c.schedule = .cosine
        c.minLearningRateRatio = 0.1
        c.checkpointEvery = 1_000
        let trainer = try Trainer(workspace: ws, config: c, runName: "budget", resume: false)
        try trainer.run()
        let m = try StepMetrics.read(trainer.metricsFile)
        #expect(m.count >= 3 && m.count < 100, "the budget, not the step count, ends the run (\(m.count) steps)")
        #expect(m.first!.learningRate == c.learningRate)
        #expect(zip(m, m.dropFirst()).allSatisfy { $0.learningRate >= $1.learningRate })
        #expect(abs(m.last!.learningRate - c.learningRateSchedule.endValue) < 1e-15)
        #expect(m.last!.tokensSampledTotal >= c.maxSampledTokens && m.dropLast().last!.tokensSampledTotal < c.maxSampledTokens)
    }
}
