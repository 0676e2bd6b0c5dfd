import Foundation
import Sampling
import Testing
import TreeRPO
@testable import treerpo

/// The tree options of `sample` and `finetune` read into Sampling's `TreeShape`: command-line
/// strings -> the shape -> a run's saved config -> back.
@Suite struct TreeShapeOptionsTests {
    static let options = ["--depth", "2", "--branching", "3,2", "--step-tokens", "8", "--step-boundary", "newline",
                          "--min-step-tokens", "3", "--no-last-level-runs-to-end", "--max-response-tokens", "40"]
    static let shape = TreeShape(depth: 2, branching: [3, 2], stepTokens: 8, stepBoundary: .newline, minStepTokens: 3,
                                 lastLevelRunsToEnd: false, maxResponseTokens: 40)

    @Test func commandLineToShapeToSavedConfigAndBack() throws {
        let finetune = try Finetune.parse(Self.options)
        let config = try finetune.trainingConfig()
        #expect(config.tree == Self.shape)
        // What finetune saves as runs/NAME/config.json, read back as a resumed run reads it.
        let saved = try config.encoded()
        let json = try #require(try JSONSerialization.jsonObject(with: saved) as? [String: Any])
        #expect(json["stepBoundary"] as? String == "newline" && json["minStepTokens"] as? Int == 3 && json["stepTokens"] as? Int == 8)
        let resumed = try JSONDecoder().decode(TrainingConfig.self, from: saved)
        #expect(resumed == config && resumed.tree == Self.shape)
        #expect(try JSONDecoder().decode(TreeShape.self, from: saved) == Self.shape)
        #expect(try resumed.digest() == config.digest())

        // sample reads the same options into the same shape, and the sampler sees the boundary.
        let sample = try Sample.parse(["--prompt", "x"] + Self.options)
        #expect(try sample.tree.shape() == Self.shape)
        let sampling = try sample.tree.samplingOptions(seed: 1, newlineTokens: [10], stopTokens: [0])
        #expect(sampling.shape == Self.shape && sampling.stepBoundary == .newline(minTokens: 3))
        #expect(StepBoundary.Kind(argument: "tokens") == .tokens && StepBoundary.Kind(argument: "lines") == nil)
    }

    /// No options: the shape's defaults, which are what finetune always saved (step 16 tokens).
    @Test func defaultOptionsAreTheShapesDefaults() throws {
        #expect(try Finetune.parse([]).trainingConfig().tree == TreeShape())
        #expect(try Sample.parse(["--prompt", "x"]).tree.shape() == TreeShape())
        #expect(TreeShape().stepTokens == 16)
    }
}
