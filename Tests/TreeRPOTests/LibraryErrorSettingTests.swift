import Foundation
import Sampling
import Testing
import ModelIO
import TestSupport
import Transformer
@testable import TreeRPO

/// Library errors name the setting (`SettingError.setting`), never a command-line flag: the
/// command line adds the flag (CLITests' SettingFlagTests, SharedLoaderTests).
@Suite struct LibraryErrorSettingTests {
    /// Library errors name the setting, not a flag (the command line adds the flag).
    @Test func libraryErrorsNameTheSettingNotAFlag() throws {
        var config = TrainingConfig()
        config.promptTemplate = "Q: {question}"
        config.chatTemplate = "auto"
        let problems = config.validationErrors()
        #expect(problems.contains { $0.contains("exclude each other") } && !problems.contains { $0.contains("--") }, "\(problems)")

        do {
            _ = try PromptTemplate.resolve(promptTemplate: "Q: {question}", chatTemplate: "auto", base: URL(fileURLWithPath: "/nonexistent"))
            Issue.record("a prompt template with chat template auto was accepted")
        } catch let error as DatasetError {
            #expect(error.setting == .chatTemplate && !"\(error)".contains("--"), "\(error)")
        }

        let root = try BundledModel.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        do {
            _ = try WorkspaceModel.load(Workspace(root: root))
            Issue.record("an empty workspace loaded")
        } catch let error as WorkspaceModelError {
            #expect(error.setting == .workspace && !"\(error)".contains("--"), "\(error)")
            #expect("\(error)".contains("no imported model") && "\(error)".contains("treerpo import"), "\(error)")
        }
    }
}
