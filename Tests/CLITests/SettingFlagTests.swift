import Transformer
import Sampling
import Testing
import TreeRPO
@testable import treerpo

/// Library errors name a setting; the message the command line prints adds its flag.
@Suite struct SettingFlagTests {
    @Test func theCommandLineAddsTheFlagOfTheSettingAnErrorNames() {
        let library = TreeSamplingError("over the memory limit; raise the memory limit", setting: .memoryLimit)
        #expect(!"\(library)".contains("--"))
        #expect(ExitStatus.message(for: library) == "tree sampler: over the memory limit; raise the memory limit (--max-memory)")
        let plain = TreeSamplingError("prompt 0 is empty")
        #expect(ExitStatus.message(for: plain) == "\(plain)")
        let counts = EvaluationError("comparison needs both evaluations' per-question counts (correct_per_question)", setting: .perQuestionCounts)
        #expect(!"\(counts)".contains("--"))
        #expect(ExitStatus.message(for: counts).hasSuffix("(correct_per_question) (eval --json writes them)"))
        let run = TrainingError("run 'r' already exists", setting: .runName)
        #expect(ExitStatus.message(for: run).hasSuffix("(--run NAME, or --resume)"))
        for setting in Setting.allCases {
            #expect(CommandLineFlags.flag(for: setting).contains("--"))
        }
    }
}
