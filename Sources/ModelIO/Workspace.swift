import Transformer
import Foundation

/// The folder the commands share (docs/architecture.md "The workspace"): `base/` the imported model (an HF
/// folder plus `import-map.json`), `runs/<name>/` fine-tuning runs, `export/` exported models.
public struct Workspace: Equatable, Sendable {
    public static let defaultFolderName = "treerpo-workspace"

    public let root: URL

    public init(root: URL) { self.root = root.standardizedFileURL }

    /// `./treerpo-workspace` in the current directory.
    public static var `default`: Workspace {
        Workspace(root: URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(defaultFolderName))
    }

    public var base: URL { root.appendingPathComponent("base") }
    public var runs: URL { root.appendingPathComponent("runs") }
    public var export: URL { root.appendingPathComponent("export") }
    public func run(_ name: String) -> URL { runs.appendingPathComponent(name) }

    public var baseWeights: URL { base.appendingPathComponent("model.safetensors") }
    public var baseConfig: URL { base.appendingPathComponent("config.json") }
    public var baseTokenizer: URL { base.appendingPathComponent("tokenizer.json") }
    public var baseImportMap: URL { base.appendingPathComponent("import-map.json") }

    public var hasBase: Bool { FileManager.default.fileExists(atPath: baseConfig.path) }
}
