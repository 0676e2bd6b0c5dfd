import Transformer
import Foundation
import ModelFiles

/// Where every parameter came from, saved as `import-map.json` beside the imported weights so
/// that export can write trained values back into the original graph: the initializer, whether it
/// is stored transposed relative to the Hugging Face layout, its element type and storage, and the
/// further copies of it (e.g. the transposed tied-head copy of the embedding) that export must
/// write too.
public struct ImportMap: Codable, Equatable, Sendable {
    public static let fileName = "import-map.json"
    public static let currentVersion = 1

    public struct Source: Codable, Equatable, Sendable {
        /// "onnx", "safetensors" or "hf-folder".
        public var format: String
        /// Absolute path of the file (or folder) imported.
        public var path: String
        /// SHA-256 of `path`'s bytes (the `.onnx` file, or each safetensors file); export refuses
        /// to write into a file whose hash changed.
        public var sha256: String
        public var bytes: Int
        /// External data files / safetensors shards: name, size and hash.
        public var files: [SourceFile]
    }

    public struct SourceFile: Codable, Equatable, Sendable {
        public var name: String
        public var bytes: Int
        public var sha256: String?
    }

    /// Where one stored tensor lives.
    public struct Storage: Codable, Equatable, Sendable {
        /// "inline" (in the protobuf), "external" (ONNX external data), "safetensors".
        public var kind: String
        public var location: String?
        public var offset: Int?
        public var length: Int?
    }

    /// One stored tensor holding a parameter's values.
    public struct Stored: Codable, Equatable, Sendable {
        /// Initializer (or safetensors tensor) name.
        public var name: String
        /// Its dims as stored.
        public var shape: [Int]
        /// True when the stored tensor is the transpose of the Hugging Face layout.
        public var transposed: Bool
        /// ONNX data type name ("FLOAT", "FLOAT16", ...) or safetensors dtype.
        public var dtype: String
        public var storage: Storage
        /// The clues that led to it, e.g. "name", "Identity output", "name of node '/lm_head/MatMul'".
        public var clues: [String]
    }

    public struct Entry: Codable, Equatable, Sendable {
        public var parameter: String
        /// Hugging Face shape.
        public var shape: [Int]
        /// The tensor the parameter was read from.
        public var source: Stored
        /// Further tensors holding the same values (checked equal on import): export writes the
        /// trained parameter into each of them too.
        public var duplicates: [Stored]
        /// Other parameters read from the same tensor (exporters merge equal tensors); export
        /// must split them if training made them differ.
        public var sharedWith: [String]
    }

    public var format = "treerpo-import-map"
    public var version = ImportMap.currentVersion
    public var source: Source
    public var family: ModelFamily
    /// "given: PATH", "beside the model: PATH" or "inferred from the graph".
    public var config: String
    public var entries: [Entry]

    public func entry(_ parameter: String) -> Entry? { entries.first { $0.parameter == parameter } }

    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    public static func read(_ url: URL) throws -> ImportMap {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ImportError(.source, file: url.lastPathComponent, "cannot read the import map: \(PlainErrorText.describe(error))")
        }
        do { return try JSONDecoder().decode(ImportMap.self, from: data) } catch {
            throw ImportError(.source, file: url.lastPathComponent, "expected an import map, found: \(PlainErrorText.describe(error))")
        }
    }
}

extension ImportMap.Storage {
    /// The storage fields of an ONNX initializer.
    init(_ tensor: ONNXTensor) {
        guard tensor.isExternal else { self.init(kind: "inline"); return }
        var entries: [String: String] = [:]
        for entry in tensor.proto.externalData { entries[entry.key] = entry.value }
        self.init(kind: "external", location: entries["location"],
                  offset: entries["offset"].flatMap { Int($0) } ?? 0, length: entries["length"].flatMap { Int($0) })
    }
}
