import Transformer
import Foundation
import ModelFiles

/// `treerpo import`: a model file (`.onnx`, `.safetensors`) or a Hugging Face folder into the
/// workspace's `base/` (fp32 `model.safetensors` with canonical names, `config.json`,
/// `tokenizer.json`, `import-map.json`), written into a temporary folder and renamed into place so
/// that a failed import leaves the workspace as it was.
public enum Importer {
    public struct Request: Sendable {
        public var source: URL
        public var tokenizer: URL?
        public var config: URL?
        public var workspace: Workspace
        /// Replace an existing `base/` (refused otherwise: runs may have been trained on it).
        public var replace: Bool

        public init(source: URL, tokenizer: URL? = nil, config: URL? = nil, workspace: Workspace = .default, replace: Bool = false) {
            self.source = source
            self.tokenizer = tokenizer
            self.config = config
            self.workspace = workspace
            self.replace = replace
        }
    }

    /// A model read into memory, not yet written.
    public struct Loaded {
        public let config: ModelConfig
        /// The bytes written as `config.json`.
        public let configJSON: Data
        public let parameters: Parameters
        public let map: ImportMap
        /// Where each inferred config field came from (empty when a config.json was used).
        public let inferenceNotes: [String]
        /// "FLOAT", "FLOAT16 x 25, FLOAT x 2", "F32", "Q4_1 x 210, F32 x 61, Q8_0", ...
        public let sourceDType: String
        /// Tokenizer files made from the source itself (a GGUF's `tokenizer.ggml.*`): file name ->
        /// bytes, written into `base/` unless `--tokenizer` names a file.
        public var generatedTokenizer: [String: Data] = [:]
        public var tokenizerSummary: String? = nil
    }

    public struct Summary: Sendable {
        public var family: ModelFamily
        public var tensors: Int
        public var scalars: Int
        public var layers: Int
        public var heads: Int
        public var kvHeads: Int
        public var vocabSize: Int
        public var hiddenSize: Int
        public var sourceDType: String
        public var configSource: String
        public var tokenizer: String
        public var inferenceNotes: [String]
        public var seconds: Double
        public var base: URL

        /// The lines `treerpo import` prints.
        public var lines: [String] {
            var out = [
                "imported \(family.rawValue) into \(base.path)",
                "  parameters  \(tensors) tensors, \(scalars) scalars (fp32)",
                "  layers      \(layers), heads \(heads), kv heads \(kvHeads), hidden \(hiddenSize)",
                "  vocabulary  \(vocabSize)",
                "  source      \(sourceDType)",
                "  config      \(configSource)",
                "  tokenizer   \(tokenizer)",
            ]
            if !inferenceNotes.isEmpty {
                out.append("  inferred:")
                out += inferenceNotes.map { "    \($0)" }
            }
            out.append(String(format: "  time        %.2f s", seconds))
            return out
        }
    }

    /// Import and write the workspace. `tokenizerVocabulary` reads a tokenizer.json and returns its
    /// vocabulary size (the CLI passes the Tokenization module's reader; this module sees no text).
    public static func run(_ request: Request, tokenizerVocabulary: ((URL) throws -> Int)? = nil) throws -> Summary {
        let start = DispatchTime.now().uptimeNanoseconds
        let workspace = request.workspace
        try refuseForeignBase(workspace)
        if workspace.hasBase, !request.replace {
            throw ImportError(.workspace, file: workspace.base.path,
                              "expected an empty workspace, found an imported model already (runs may depend on it); replace it or choose another workspace", setting: .replaceModel)
        }
        let loaded = try load(request)
        // A tokenizer built from the source wins over a tokenizer.json lying beside it; --tokenizer over both.
        let tokenizer = loaded.generatedTokenizer.isEmpty || request.tokenizer != nil ? try findTokenizer(request) : nil
        if let tokenizer, let tokenizerVocabulary {
            let size = try tokenizerVocabulary(tokenizer)
            guard size <= loaded.config.vocabSize else {
                throw ImportError(.source, file: tokenizer.path, subject: "vocabulary",
                                  "expected at most vocab_size \(loaded.config.vocabSize) token ids (the embedding rows), found \(size)")
            }
        }
        try write(loaded, tokenizer: tokenizer, to: workspace)
        let c = loaded.config
        return Summary(
            family: c.family, tensors: loaded.parameters.entries.count, scalars: c.parameterSpecs.reduce(0) { $0 + $1.count },
            layers: c.layers, heads: c.heads, kvHeads: c.kvHeads, vocabSize: c.vocabSize, hiddenSize: c.hiddenSize,
            sourceDType: loaded.sourceDType, configSource: loaded.map.config,
            tokenizer: tokenizer.map { "\($0.path) (copied)" } ?? loaded.tokenizerSummary ?? "none found (give the import a tokenizer.json)",
            inferenceNotes: loaded.inferenceNotes,
            seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, base: workspace.base)
    }

    /// Reads the source into fp32 parameters with its import map; writes nothing.
    public static func load(_ request: Request) throws -> Loaded {
        let source = request.source.standardizedFileURL
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: source.path, isDirectory: &isDirectory) else {
            throw ImportError(.source, file: source.path, "expected a .onnx, .safetensors or .gguf file or a Hugging Face folder, found nothing at this path")
        }
        if isDirectory.boolValue {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: source.path)) ?? []
            if names.contains(SafeTensorsShards.singleFileName) || names.contains(SafeTensorsShards.indexFileName) {
                return try SafeTensorsImport.load(folder: source, config: request.config)
            }
            let onnx = names.filter { $0.hasSuffix(".onnx") }.sorted()
            guard onnx.count == 1 else {
                throw ImportError(.source, file: source.path,
                                  "expected model.safetensors, \(SafeTensorsShards.indexFileName) or exactly one .onnx file in the folder, found \(onnx.isEmpty ? "none" : onnx.joined(separator: ", "))")
            }
            return try loadONNX(source.appendingPathComponent(onnx[0]), config: request.config)
        }
        switch source.pathExtension.lowercased() {
        case "onnx": return try loadONNX(source, config: request.config)
        case "safetensors": return try SafeTensorsImport.load(file: source, config: request.config)
        case "gguf": return try GGUFImport.load(file: source, config: request.config)
        default:
            throw ImportError(.source, file: source.path, "expected a .onnx, .safetensors or .gguf file or a Hugging Face folder, found extension '.\(source.pathExtension)'")
        }
    }

    static func loadONNX(_ url: URL, config configURL: URL?) throws -> Loaded {
        let directory = url.deletingLastPathComponent()
        let model = try ONNXModel(contentsOf: url)
        var notes: [String] = []
        let config: ModelConfig, configJSON: Data, configSource: String
        if let found = try ConfigFile.find(given: configURL, beside: url) {
            (config, configJSON, configSource) = found
        } else {
            let inferred = try ConfigInference.infer(model, directory: directory)
            config = inferred.config
            configJSON = try inferred.hf.encoded()
            configSource = "inferred from the graph (no config.json beside \(url.lastPathComponent))"
            notes = inferred.notes
        }
        let result = try ONNXImport.load(model, config: config, directory: directory)
        let (hash, bytes) = try SHA256.hex(file: url)
        // External data files are recorded by size: hashing gigabytes would double the import
        // time, and the .onnx hash already pins their layout (locations, offsets, lengths).
        var external: [String: Int] = [:]
        for e in result.entries {
            for s in [e.source] + e.duplicates where s.storage.kind == "external" {
                if let location = s.storage.location {
                    let size = (try? FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent(location).path)[.size] as? Int) ?? 0
                    external[location] = size
                }
            }
        }
        let map = ImportMap(
            source: ImportMap.Source(format: "onnx", path: url.path, sha256: hash, bytes: bytes,
                                     files: external.keys.sorted().map { ImportMap.SourceFile(name: $0, bytes: external[$0]!, sha256: nil) }),
            family: config.family, config: configSource, entries: result.entries)
        return Loaded(config: config, configJSON: configJSON, parameters: result.parameters, map: map,
                      inferenceNotes: notes, sourceDType: describe(result.sourceTypes))
    }

    static func describe(_ types: [String: Int]) -> String {
        if types.count == 1 { return types.keys.first! }
        return types.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }
            .map { "\($0.key) x \($0.value)" }.joined(separator: ", ")
    }

    static func findTokenizer(_ request: Request) throws -> URL? {
        if let given = request.tokenizer {
            guard FileManager.default.fileExists(atPath: given.path) else {
                throw ImportError(.source, file: given.path, "expected the tokenizer.json given with the import, found nothing at this path", setting: .tokenizer)
            }
            return given
        }
        var folder = request.source.standardizedFileURL
        var isDirectory: ObjCBool = false
        if !(FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory) && isDirectory.boolValue) {
            folder = folder.deletingLastPathComponent()
        }
        let beside = folder.appendingPathComponent("tokenizer.json")
        return FileManager.default.fileExists(atPath: beside.path) ? beside : nil
    }

    /// Import replaces `base/` only when it is a model treerpo wrote (a real folder holding
    /// `config.json` and `model.safetensors`): a user's file, link or other folder of that name is
    /// never deleted, with or without `--replace`.
    static func refuseForeignBase(_ workspace: Workspace) throws {
        var info = stat()
        guard lstat(workspace.base.path, &info) == 0 else { return }  // nothing there
        let fm = FileManager.default
        let isFolder = info.st_mode & S_IFMT == S_IFDIR
        if isFolder, fm.fileExists(atPath: workspace.baseConfig.path), fm.fileExists(atPath: workspace.baseWeights.path) { return }
        let found = info.st_mode & S_IFMT == S_IFLNK ? "a symbolic link"
            : isFolder ? "a folder without config.json and model.safetensors" : "a file"
        throw ImportError(.workspace, file: workspace.base.path,
                          "expected nothing there or a model imported by treerpo, found \(found); it is left as it is: move it away or import into another workspace")
    }

    /// Writes `base/` into a temporary sibling, then swaps it in; on any failure the temporary is
    /// removed and an existing `base/` stays as it was.
    static func write(_ loaded: Loaded, tokenizer: URL?, to workspace: Workspace) throws {
        let fm = FileManager.default
        let root = workspace.root
        let ioError = { (what: String, error: Error) in
            ImportError(.workspace, file: root.path, "cannot \(what): \(PlainErrorText.describe(error))")
        }
        do { try fm.createDirectory(at: root, withIntermediateDirectories: true) } catch { throw ioError("create the workspace folder", error) }
        let temporary = root.appendingPathComponent(".base.tmp-\(getpid())-\(UUID().uuidString.prefix(8))")
        do {
            try fm.createDirectory(at: temporary, withIntermediateDirectories: false)
            let p = loaded.parameters
            let entries = try p.entries.map { e in
                try SafeTensorsWriter.Entry(name: e.spec.name, dtype: .f32, shape: e.spec.shape,
                                            data: Data(bytesNoCopy: p.base + e.offset, count: e.spec.count * 4, deallocator: .none))
            }
            try SafeTensorsWriter.write(entries, to: temporary.appendingPathComponent(SafeTensorsShards.singleFileName))
            try loaded.configJSON.write(to: temporary.appendingPathComponent("config.json"))
            try loaded.map.encoded().write(to: temporary.appendingPathComponent(ImportMap.fileName))
            if tokenizer == nil {
                for (name, bytes) in loaded.generatedTokenizer.sorted(by: { $0.key < $1.key }) {
                    try bytes.write(to: temporary.appendingPathComponent(name))
                }
            }
            if let tokenizer {
                try fm.copyItem(at: tokenizer, to: temporary.appendingPathComponent("tokenizer.json"))
                let extra = tokenizer.deletingLastPathComponent().appendingPathComponent("tokenizer_config.json")
                if fm.fileExists(atPath: extra.path) {
                    try fm.copyItem(at: extra, to: temporary.appendingPathComponent("tokenizer_config.json"))
                }
            }
        } catch {
            try? fm.removeItem(at: temporary)
            throw (error as? ImportError) ?? ioError("write \(temporary.lastPathComponent)", error)
        }
        // Swap: old base aside, new base in, old base removed (restored if the second rename fails).
        let old = root.appendingPathComponent(".base.old-\(getpid())-\(UUID().uuidString.prefix(8))")
        let hadBase = fm.fileExists(atPath: workspace.base.path)
        if hadBase, rename(workspace.base.path, old.path) != 0 {
            try? fm.removeItem(at: temporary)
            throw ImportError(.workspace, file: workspace.base.path, "cannot move the previous base aside (errno \(errno))")
        }
        if rename(temporary.path, workspace.base.path) != 0 {
            let code = errno
            if hadBase { _ = rename(old.path, workspace.base.path) }
            try? fm.removeItem(at: temporary)
            throw ImportError(.workspace, file: workspace.base.path, "cannot rename \(temporary.lastPathComponent) into place (errno \(code))")
        }
        if hadBase { try? fm.removeItem(at: old) }
    }
}

/// The config.json to use: given by flag, or beside the model.
enum ConfigFile {
    static func find(given: URL?, beside model: URL) throws -> (ModelConfig, Data, String)? {
        let url: URL, source: String
        if let given {
            url = given
            source = "given: \(given.path)"
        } else {
            url = model.deletingLastPathComponent().appendingPathComponent("config.json")
            guard FileManager.default.fileExists(atPath: url.path) else { return nil }
            source = "beside the model: \(url.path)"
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ImportError(.config, file: url.path, "expected a readable config.json, found: \(PlainErrorText.describe(error))")
        }
        let hf = try HFConfig(data: data, file: url.path)
        do {
            return (try ModelConfig(hf: hf, file: url.path), data, source)
        } catch let error as ModelConfigError {
            throw ImportError(.config, file: url.path, subject: "field '\(error.field)'", error.message)
        }
    }
}
