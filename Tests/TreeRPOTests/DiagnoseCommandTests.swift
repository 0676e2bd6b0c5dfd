import Foundation
import Testing
import TestSupport
import ModelIO
@testable import TreeRPO

/// `treerpo diagnose gradient-snr` driven as a user would, on the bundled model at small sizes:
/// it runs, prints every estimator, and what it measures points where the reference points.
/// The numbers themselves are checked by hand in `GradientDiagnosticTests`.
@Suite struct DiagnoseCommandTests {
    static func arguments(_ ws: URL) -> [String] {
        ["diagnose", "gradient-snr", "--workspace", ws.path, "--questions", "4", "--estimates", "4",
         "--reference-samples", "32", "--reference-group-size", "8", "--depth", "2", "--branching", "2",
         "--step-tokens", "12", "--max-response-tokens", "64", "--group-size", "4", "--threads", "1", "--json"]
    }

    /// Every estimator of the bundled model (which solves about 40% of these questions) has a
    /// positive mean signal and mean cosine along the reference: a gradient of the wrong sign, or
    /// advantages attached to the wrong answers, reads at or below 0. The reference's halves
    /// agree (positive cosine). Measured when written (the test prints its numbers): reference
    /// accuracy 15% on these 4 questions, halves cosine 0.79; mean cosine 0.51 for every TreeRPO
    /// row and 0.34-0.35 for GRPO's, mean signals 0.05-0.24 (each row in its own advantage scale).
    /// About 20 s.
    @Test func gradientSNRRunsOnTheBundledModelAndEveryEstimatorPointsAlongTheReference() throws {
        let root = try BundledModel.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let ws = try BundledModel.workspace(in: root).root
        let outcome = try TreerpoProgram.run(Self.arguments(ws))
        try #require(outcome.status == 0, "treerpo diagnose gradient-snr failed: \(outcome.stderr)")
        let result = try JSONDecoder().decode(GradientDiagnosticResult.self, from: Data(outcome.stdout.utf8))
        print("diagnose gradient-snr on the bundled model: reference accuracy \(result.reference.meanReward), halves cosine \(result.reference.halvesCosine); "
              + result.estimators.map { "\($0.name): SNR \($0.snr.snr.map { String(format: "%.3f", $0) } ?? "-"), mean signal \($0.snr.meanSignal), mean cosine \($0.snr.meanCosine), tokens \($0.snr.meanTokens)" }.joined(separator: "; "))

        #expect(result.questions == 4 && result.reference.groups == 4 && result.reference.groupSize == 8)
        #expect(result.reference.meanReward > 0 && result.reference.meanReward < 1, "accuracy \(result.reference.meanReward)")
        #expect(result.reference.halvesCosine > 0, "the reference's halves disagree: cosine \(result.reference.halvesCosine)")
        #expect(result.estimators.map(\.name) == ["TreeRPO, group std", "TreeRPO, no std", "TreeRPO, tree std", "TreeRPO, batch std",
                                                  "GRPO, group std", "GRPO, no std"])
        for row in result.estimators {
            #expect(row.signals.count == 4 && row.tokens.allSatisfy { $0 > 0 }, "\(row.name): \(row.tokens)")
            #expect(row.snr.meanSignal > 0, "\(row.name): mean signal \(row.snr.meanSignal) along the reference")
            #expect(row.snr.meanCosine > 0, "\(row.name): mean cosine \(row.snr.meanCosine) to the reference")
        }
        // The estimators of one arm share its batches: the same tokens.
        let tree = result.estimators.filter { $0.estimator.algorithm == .treerpo }
        #expect(Set(tree.map(\.tokens)).count == 1)
    }

    @Test func settingsTheDiagnosticCannotMeasureAreRefusedOnTheCommandLine() throws {
        let ws = URL(fileURLWithPath: "/nonexistent-workspace")
        let few = try TreerpoProgram.run(["diagnose", "gradient-snr", "--workspace", ws.path, "--estimates", "2"])
        #expect(few.status == 64 && few.stderr.contains("estimates must be at least 3"), "\(few.status): \(few.stderr)")
        let tempered = try TreerpoProgram.run(["diagnose", "gradient-snr", "--workspace", ws.path, "--temperature", "0.7"])
        #expect(tempered.status == 64 && tempered.stderr.contains("model's own distribution"), "\(tempered.status): \(tempered.stderr)")
        let odd = try TreerpoProgram.run(["diagnose", "gradient-snr", "--workspace", ws.path, "--reference-samples", "20"])
        #expect(odd.status == 64 && odd.stderr.contains("multiple of the reference group size"), "\(odd.status): \(odd.stderr)")
    }
}
