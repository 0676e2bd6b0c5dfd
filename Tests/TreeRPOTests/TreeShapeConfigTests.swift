import Foundation
import Sampling
import Testing
import TestSupport
import Transformer
@testable import TreeRPO

/// Sampling's `TreeShape` is the one tree-shape type: a run's config holds it under the field
/// names it always had, so configs saved before load, and re-encode to the same bytes (the
/// digest every checkpoint holds, which `--resume` compares).
@Suite struct TreeShapeConfigTests {
    /// A run's config.json as `finetune` saved it before `TreeShape` existed (committed with the
    /// quickstart experiment).
    static let savedRunConfig = Repository.url("docs/experiment-quickstart-recipe/treerpo-s0/config.json")

    @Test func aSavedRunConfigLoadsWithItsShapeAndReencodesByteForByte() throws {
        let saved = try Data(contentsOf: Self.savedRunConfig)
        let config = try JSONDecoder().decode(TrainingConfig.self, from: saved)
        let shape = TreeShape(depth: 3, branching: [2, 2, 2], stepTokens: 16, stepBoundary: .tokens, minStepTokens: 4,
                              lastLevelRunsToEnd: true, maxResponseTokens: 128)
        #expect(config.tree == shape)
        #expect(config.treeShape == shape)
        // The shape alone decodes from the run's config (the same field names).
        #expect(try JSONDecoder().decode(TreeShape.self, from: saved) == shape)
        let reencoded = try config.encoded()
        #expect(String(decoding: reencoded, as: UTF8.self) == String(decoding: saved, as: UTF8.self)
                    .trimmingCharacters(in: .newlines))
    }

    @Test func theDefaultsAreTreeShapesEverywhere() {
        #expect(TreeShape().stepTokens == 16 && TreeShape.defaultStepTokens == 16)
        #expect(TreeShape() == TreeShape(depth: 3, branching: [2, 2, 2], stepTokens: 16, stepBoundary: .tokens,
                                         minStepTokens: 4, lastLevelRunsToEnd: true, maxResponseTokens: 256))
        #expect(TrainingConfig().tree == TreeShape())
        #expect(TreeSamplingOptions().shape == TreeShape())
    }

    @Test func settingTheShapeSetsTheSavedFieldsAndGRPOSamplesOneLevel() throws {
        var config = TrainingConfig()
        let shape = TreeShape(depth: 2, branching: [3, 2], stepTokens: 8, stepBoundary: .newline, minStepTokens: 3,
                              lastLevelRunsToEnd: false, maxResponseTokens: 40)
        config.tree = shape
        #expect(config.depth == 2 && config.branching == [3, 2] && config.stepTokens == 8 && config.stepBoundary == .newline
                    && config.minStepTokens == 3 && !config.lastLevelRunsToEnd && config.maxResponseTokens == 40)
        let decoded = try JSONDecoder().decode(TrainingConfig.self, from: try config.encoded())
        #expect(decoded == config && decoded.tree == shape)
        #expect(TreeSamplingOptions(shape: decoded.treeShape).stepBoundary == .newline(minTokens: 3))

        config.algorithm = .grpo
        config.groupSize = 6
        #expect(config.treeShape == TreeShape(depth: 1, branching: [6], stepTokens: 40, stepBoundary: .newline, minStepTokens: 3,
                                              lastLevelRunsToEnd: false, maxResponseTokens: 40))
    }

    @Test func theResponseBudgetIsLoweredOnlyWhenTheContextRunsOut() {
        let shape = TreeShape(maxResponseTokens: 256)
        #expect(shape.responseTokensFitting(promptLength: 10, positions: 512) == nil)
        #expect(shape.responseTokensFitting(promptLength: 10, positions: 266) == nil)
        #expect(shape.responseTokensFitting(promptLength: 10, positions: 265) == 255)
        #expect(shape.responseTokensFitting(promptLength: 64, positions: 64) == nil)
    }
}
