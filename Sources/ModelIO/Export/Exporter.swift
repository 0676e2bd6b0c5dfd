import Transformer
import Foundation
import ModelFiles

/// `treerpo export`: a checkpoint (default: the newest of the run that saved last; the
/// untrained import when there is none) written as
///
///     <out>/onnx/model.onnx (+ its external data files, same names as the source's)
///     <out>/gguf/<source name>.gguf (a model imported from GGUF; see GGUFWriteBack)
///     <out>/hf/model.safetensors, config.json, generation_config.json, tokenizer.json, tokenizer_config.json
///     <out>/EXPORT.md
///
/// The whole folder is built under a temporary name beside `<out>` and renamed into place at
/// the end (`ExportFolder`): a failed export leaves nothing behind and an existing export as it
/// was; a killed one leaves only a hidden temporary that the next export removes.
public enum Exporter {
    public enum Format: String, CaseIterable, Sendable {
        case onnx, safetensors, gguf
    }

    public struct Request {
        public var workspace: Workspace
        /// nil: the newest checkpoint (or the base); "base"; a run name; RUN/step-N; a folder.
        public var checkpoint: String?
        /// nil: `<workspace>/export`.
        public var out: URL?
        /// nil: ONNX (when the base was imported from ONNX) and safetensors.
        public var formats: Set<Format>?
        /// Replace an existing export folder (only one holding EXPORT.md).
        public var replace: Bool
        public var maxShardBytes: Int
        /// Protobuf size above which inline initializers move to external data (2 GB limit).
        public var maxProtobufBytes: Int
        /// Test seam: the bytes the export may write before writes fail as on a full disk.
        public var budget: ExportByteBudget?
        public var date: Date
        /// GGUF export: nil keeps each tensor's source type; else every 2-D tensor in this type.
        public var ggufType: GGMLType?

        public init(workspace: Workspace = .default, checkpoint: String? = nil, out: URL? = nil, formats: Set<Format>? = nil,
                    replace: Bool = false, maxShardBytes: Int = Exporter.defaultMaxShardBytes,
                    maxProtobufBytes: Int = Exporter.protobufLimit, budget: ExportByteBudget? = nil, date: Date = Date()) {
            self.workspace = workspace
            self.checkpoint = checkpoint
            self.out = out
            self.formats = formats
            self.replace = replace
            self.maxShardBytes = maxShardBytes
            self.maxProtobufBytes = maxProtobufBytes
            self.budget = budget
            self.date = date
            self.ggufType = nil
        }
    }

    public struct Summary: Sendable {
        public var weights: String
        /// Why the untrained import was exported; nil when a checkpoint was.
        public var untrainedBecause: String?
        public var untrained: Bool { untrainedBecause != nil }
        public var out: URL
        public var files: [String]
        public var tensorsWritten: Int
        /// "param, param -> new initializer 'x'" per split.
        public var splits: [String]
        public var notes: [String]
        public var seconds: Double

        /// What `treerpo export` prints.
        public var lines: [String] {
            var out = [untrainedBecause.map { "exported \(weights): \($0)" } ?? "exported \(weights)",
                       "  to          \(self.out.path)"]
            for format in ["onnx/", "gguf/", "hf/"] {
                let names = files.filter { $0.hasPrefix(format) }.map { String($0.dropFirst(format.count)) }
                if !names.isEmpty { out.append("  \(format.padding(toLength: 12, withPad: " ", startingAt: 0))\(names.joined(separator: ", "))") }
            }
            if tensorsWritten > 0 { out.append("  onnx        \(tensorsWritten) initializers rewritten in their original type, layout and storage") }
            out += splits.map { "  split       \($0)" }
            out += notes.map { "  note        \($0)" }
            out.append("  provenance  \(ExportFolder.provenanceFile)")
            out.append(String(format: "  time        %.2f s", seconds))
            return out
        }
    }

    /// transformers' default `max_shard_size` ("5GB", decimal).
    public static let defaultMaxShardBytes = 5_000_000_000
    /// Protobuf messages cannot exceed 2 GiB; stay a little below.
    public static let protobufLimit = (1 << 31) - (1 << 20)

    public static let onnxFolder = "onnx"
    public static let ggufFolder = "gguf"
    public static let hfFolder = "hf"
    public static let onnxName = "model.onnx"

    public static func run(_ request: Request) throws -> Summary {
        let start = DispatchTime.now().uptimeNanoseconds
        let source = try ExportSource.load(workspace: request.workspace, checkpoint: request.checkpoint)
        var notes: [String] = []
        let fromONNX = source.map.source.format == "onnx"
        var formats = request.formats ?? Set(Format.allCases)
        if formats.contains(.onnx), !fromONNX {
            guard request.formats == nil else {
                throw ExportError(.unsupported, file: source.workspace.baseImportMap.path,
                                  "expected a model imported from ONNX to export ONNX, found one imported from \(source.map.source.format) (\(source.map.source.path)); export safetensors instead", setting: .exportFormat)
            }
            formats.remove(.onnx)
            notes.append("no ONNX written: the model was imported from \(source.map.source.format), there is no graph to write into")
        }
        let fromGGUF = source.map.source.format == "gguf"
        if formats.contains(.gguf), !fromGGUF {
            guard request.formats == nil else {
                throw ExportError(.unsupported, file: source.workspace.baseImportMap.path,
                                  "expected a model imported from GGUF to export GGUF, found one imported from \(source.map.source.format) (\(source.map.source.path)); export safetensors instead", setting: .exportFormat)
            }
            formats.remove(.gguf)
        }
        // Built (and checked against the source) before anything is written.
        var gguf: (data: Data, rewritten: Int)? = nil
        if formats.contains(.gguf) {
            gguf = try GGUFWriteBack.bytes(source, target: request.ggufType)
            let name = URL(fileURLWithPath: source.map.source.path).lastPathComponent
            notes.append(request.ggufType.map { "gguf/\(name): every 2-D tensor as \($0), 1-D tensors F32" }
                         ?? "gguf/\(name): each tensor in its source type, \(gguf!.rewritten) changed tensors re-quantised, the rest byte for byte")
        }
        // Read and check the ONNX source before anything is written.
        var onnx: ONNXWriteBack? = nil
        if formats.contains(.onnx) {
            let model = try verifiedSource(source.map)
            onnx = try ONNXWriteBack.plan(model: model, sourceFile: URL(fileURLWithPath: source.map.source.path), map: source.map,
                                          config: source.config, parameters: source.parameters, onnxName: onnxName,
                                          maxProtobufBytes: request.maxProtobufBytes)
        }

        let folder = try ExportFolder(destination: request.out ?? request.workspace.export, replace: request.replace)
        let files = ExportFiles(folder: folder.temporary, budget: request.budget)
        do {
            if let onnx {
                for data in onnx.dataFiles {
                    try files.write("\(onnxFolder)/\(data.location)") { writer in
                        try ONNXDataFileWriter.write(data, to: writer) { parameter, stored, original in
                            ONNXWriteBack.encode(source.parameters, parameter, into: stored, original: original)
                        }
                    }
                }
                let bytes: Data
                do { bytes = try onnx.proto.serializedBytes() } catch {
                    throw ExportError(.unsupported, file: onnxName, "cannot serialize the ModelProto: \(PlainErrorText.describe(error))")
                }
                try files.write("\(onnxFolder)/\(onnxName)", data: bytes)
            }
            if let gguf {
                try files.write("\(ggufFolder)/\(URL(fileURLWithPath: source.map.source.path).lastPathComponent)", data: gguf.data)
            }
            if formats.contains(.safetensors) {
                try HFFolderExport.write(source, folder: hfFolder, maxShardBytes: request.maxShardBytes, files: files)
            }
            let provenance = ExportProvenance.markdown(source, date: request.date, onnx: onnx, files: files.written)
            try files.write(ExportFolder.provenanceFile, data: Data(provenance.utf8))
            try folder.commit()
        } catch {
            folder.discard()
            throw error
        }
        var untrainedBecause: String? = nil
        if case .base = source.origin {
            untrainedBecause = request.checkpoint == "base" ? "as asked (checkpoint base), the imported model untrained"
                : "no run has saved a checkpoint, so this is the imported model untrained"
        }
        return Summary(
            weights: source.description, untrainedBecause: untrainedBecause, out: folder.destination, files: files.written.map(\.path),
            tensorsWritten: onnx?.tensorsWritten ?? 0,
            splits: onnx?.splits.map { "\($0.parameters.joined(separator: ", ")) -> new initializer '\($0.tensor)' (was '\($0.from)')" } ?? [],
            notes: notes + (onnx.map { $0.movedToExternal > 0 ? ["\($0.movedToExternal) initializers moved to external data (2 GB protobuf limit)"] : [] } ?? []),
            seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }

    /// The imported ONNX file, checked to be byte-for-byte the one the import read (SHA-256) with
    /// external data files of the recorded sizes, then parsed.
    static func verifiedSource(_ map: ImportMap) throws -> ONNXModel {
        let url = URL(fileURLWithPath: map.source.path)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ExportError(.source, file: url.path, "expected the ONNX file the model was imported from, found nothing at this path (moved or deleted?); the graph is needed to write the weights back")
        }
        let (hash, bytes): (String, Int)
        do { (hash, bytes) = try SHA256.hex(file: url) } catch {
            throw ExportError(.source, file: url.path, "cannot hash: \(PlainErrorText.describe(error))")
        }
        guard hash == map.source.sha256 else {
            throw ExportError(.source, file: url.path, subject: "SHA-256",
                              "expected \(map.source.sha256) (\(map.source.bytes) bytes, recorded at import), found \(hash) (\(bytes) bytes): the file changed since the import; re-import it")
        }
        let directory = url.deletingLastPathComponent()
        for data in map.source.files {
            let path = directory.appendingPathComponent(data.name).path
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
            guard size == data.bytes else {
                throw ExportError(.source, file: path, subject: "size",
                                  "expected the external data file of \(data.bytes) bytes recorded at import, found \(size.map { "\($0) bytes" } ?? "no file"): it changed since the import; re-import the model")
            }
            if let expected = data.sha256 {
                let (found, _) = try SHA256.hex(file: URL(fileURLWithPath: path))
                guard found == expected else {
                    throw ExportError(.source, file: path, subject: "SHA-256", "expected \(expected) (recorded at import), found \(found)")
                }
            }
        }
        do { return try ONNXModel(contentsOf: url) } catch {
            throw ExportError(.source, file: url.path, "\(PlainErrorText.describe(error))")
        }
    }
}

extension ONNXWriteBack {
    /// `parameter` in the layout and element type of `stored`.
    static func encode(_ parameters: Parameters, _ parameter: String, into stored: ImportMap.Stored, original: Data?) -> Data {
        let spec = parameters.entry(parameter)!.spec
        let values = StoredEncoding.storedOrder(parameters[parameter], shape: spec.shape, transposed: stored.transposed)
        return StoredEncoding.bytes(values, as: StoredEncoding.scalarType(stored.dtype)!, original: original)
    }
}
