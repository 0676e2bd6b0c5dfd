import Foundation
import TestSupport
import ModelIO
import Transformer
@testable import TreeRPO

/// The bundled math model (`models/<name>/`, made by `tools/make_bundled_model.py`) imported into
/// a fresh temporary workspace: the subject of the trainer tests.
enum BundledModel {
    static let repoRoot = Repository.root

    static let regenerate = "regenerate with: python tools/make_bundled_model.py"

    /// `models/<name>/model.onnx` (the first model folder, by name).
    static func onnx() throws -> URL {
        let models = repoRoot.appendingPathComponent("models")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: models.path))?.sorted() ?? []
        for name in names {
            let file = models.appendingPathComponent(name).appendingPathComponent("model.onnx")
            if FileManager.default.fileExists(atPath: file.path) { return file }
        }
        throw TrainingError("no bundled model under \(models.path) (expected models/<name>/model.onnx); \(regenerate)")
    }

    static func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("treerpo-trainer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A workspace with the bundled model imported into `base/`.
    static func workspace(in folder: URL) throws -> Workspace {
        let ws = Workspace(root: folder.appendingPathComponent("ws"))
        _ = try Importer.run(.init(source: try onnx(), workspace: ws))
        return ws
    }

    /// Small, fast settings: 2 questions of depth-2 binary trees per step.
    static func smallConfig(steps: Int, seed: UInt64 = 7) -> TrainingConfig {
        var c = TrainingConfig()
        c.depth = 2
        c.branching = [2, 2]
        c.stepTokens = 12
        c.maxResponseTokens = 64
        c.promptsPerStep = 2
        c.steps = steps
        c.seed = seed
        c.learningRate = 5e-4
        c.checkpointEvery = 1
        c.keepCheckpoints = 2
        c.treeDumpEvery = 0
        c.advantages.tau = 0
        return c
    }

    /// The bit patterns of every parameter.
    static func bits(_ p: Parameters) -> [UInt32] {
        Array(UnsafeBufferPointer(start: p.base, count: p.count)).map(\.bitPattern)
    }
}
