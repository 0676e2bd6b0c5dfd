import Transformer
import Foundation
import ModelFiles
import Tensors
#if canImport(Glibc)
import Glibc
#endif

/// Trained parameters written back into the ONNX graph they were imported from, as the import
/// map describes it: every initializer holding a parameter (and every duplicate of it, e.g. the
/// transposed copy of a tied embedding) gets the new values in its own element type, layout and
/// storage; nothing else in the model changes (graph, names, opsets, metadata, value_info, inputs
/// and outputs such as past key values, unmapped constants).
///
/// Parameters that the exporter merged into one initializer (because they were equal) but that
/// training made different are split: the initializer keeps the values of the parameter it is
/// named after (else the first in the map), each other distinct value gets a new initializer of
/// the same type and storage, and the consumers of those parameters are rewired to it (see
/// `SharedInitializerSplit`). When a consumer cannot be told apart, the export is refused.
///
/// Inline data is replaced in the parsed `ModelProto`; external data is planned as byte ranges
/// and streamed by `ONNXDataFileWriter`, copying everything else from the original file.
struct ONNXWriteBack {
    /// Where the new bytes of one external tensor come from.
    enum Payload {
        /// Already encoded (tensors with several writers, compared before writing).
        case bytes(Data)
        /// Encode this parameter into this stored tensor when the range is written, using the
        /// original bytes of the range for unchanged elements.
        case parameter(String, ImportMap.Stored)
    }

    struct Range {
        var tensor: String
        var offset: Int
        var length: Int
        var payload: Payload
    }

    /// One external data file of the exported model.
    struct DataFile {
        var location: String
        /// The original file to copy (nil for a file the export creates).
        var original: URL?
        var originalSize: Int
        var ranges: [Range] = []
        /// New tensors appended after the original bytes: (offset, bytes).
        var appended: [(offset: Int, bytes: Data)] = []

        var end: Int { appended.last.map { $0.offset + $0.bytes.count } ?? originalSize }
    }

    /// Parameters given a new initializer because training made them differ from the others
    /// sharing theirs.
    struct Split: Equatable {
        var parameters: [String]
        var from: String
        var tensor: String
        /// "node 'name' input k" of each rewired edge.
        var rewired: [String]
    }

    var proto: Onnx_ModelProto
    var dataFiles: [DataFile]
    var splits: [Split]
    /// Initializers whose data was written.
    var tensorsWritten: Int
    /// Initializers moved from inline to external data to keep the protobuf under its limit.
    var movedToExternal: Int

    /// Alignment of tensors the export appends to a data file.
    static let appendAlignment = 4096

    /// Plans the write-back. `sourceFile` is the original `.onnx` (its folder holds the external
    /// data); `onnxName` the exported file's name (the data file a too-large model moves to is
    /// `<onnxName>.data`).
    static func plan(model: ONNXModel, sourceFile: URL, map: ImportMap, config: ModelConfig, parameters: Parameters,
                     onnxName: String, maxProtobufBytes: Int = Exporter.protobufLimit) throws -> ONNXWriteBack {
        var builder = try Builder(model: model, sourceFile: sourceFile, map: map, config: config, parameters: parameters)
        try builder.writeParameters()
        try builder.keepUnderLimit(maxProtobufBytes, onnxName: onnxName)
        return ONNXWriteBack(proto: builder.proto, dataFiles: builder.dataFiles.keys.sorted().map { builder.dataFiles[$0]! },
                             splits: builder.splits, tensorsWritten: builder.tensorsWritten, movedToExternal: builder.moved)
    }
}

extension ONNXWriteBack {
    /// The mutable state of one plan.
    struct Builder {
        let model: ONNXModel
        let directory: URL
        let sourceFileSize: Int
        let map: ImportMap
        let config: ModelConfig
        let parameters: Parameters
        var proto: Onnx_ModelProto
        var dataFiles: [String: DataFile] = [:]
        var splits: [Split] = []
        var tensorsWritten = 0
        var moved = 0
        /// Bytes the inline part of the protobuf grows by (new inline tensors).
        var growth = 0
        private var index: [String: Int] = [:]

        var file: String { model.file }

        init(model: ONNXModel, sourceFile: URL, map: ImportMap, config: ModelConfig, parameters: Parameters) throws {
            self.model = model
            directory = sourceFile.deletingLastPathComponent()
            sourceFileSize = (try? FileManager.default.attributesOfItem(atPath: sourceFile.path)[.size] as? Int) ?? 0
            self.map = map
            self.config = config
            self.parameters = parameters
            proto = model.proto
            for (i, t) in proto.graph.initializer.enumerated() where index[t.name] == nil { index[t.name] = i }
        }

        // MARK: - Parameters into initializers

        mutating func writeParameters() throws {
            // Writers of each stored tensor, in initializer order.
            var writers: [String: [(parameter: String, stored: ImportMap.Stored)]] = [:]
            for entry in map.entries {
                for stored in [entry.source] + entry.duplicates {
                    try check(stored, of: entry.parameter)
                    writers[stored.name, default: []].append((entry.parameter, stored))
                }
            }
            let attribution = ConsumerAttribution(model: model, config: config)
            for name in proto.graph.initializer.map(\.name) {
                guard let list = writers[name] else { continue }
                let i = index[name]!
                tensorsWritten += 1
                if list.count == 1 {
                    try write(.parameter(list[0].parameter, list[0].stored), into: i, stored: list[0].stored)
                    continue
                }
                // Several parameters (or copies) write this tensor: compare what each would store.
                let original = try originalBytes(i, stored: list[0].stored)
                var groups: [(bytes: Data, parameters: [String])] = []
                for w in list {
                    let bytes = encode(w.parameter, into: w.stored, original: original)
                    if let g = groups.firstIndex(where: { $0.bytes == bytes }) {
                        if !groups[g].parameters.contains(w.parameter) { groups[g].parameters.append(w.parameter) }
                    } else {
                        groups.append((bytes, [w.parameter]))
                    }
                }
                let owner = ownerGroup(groups.map(\.parameters), tensor: name, attribution: attribution)
                try write(.bytes(groups[owner].bytes), into: i, stored: list[0].stored)
                if groups.count > 1 {
                    let others = groups.indices.filter { $0 != owner }.map { groups[$0] }
                    try split(tensor: i, stored: list[0].stored, owner: groups[owner].parameters, others: others, attribution: attribution)
                }
            }
        }

        /// The import map entry must describe the initializer as it is in the file.
        private func check(_ stored: ImportMap.Stored, of parameter: String) throws {
            let subject = "tensor '\(stored.name)'"
            guard let i = index[stored.name] else {
                throw ExportError(.importMap, file: file, subject: subject,
                                  "the import map stores parameter '\(parameter)' here, but the graph has no initializer of this name")
            }
            let tensor = model.wrap(proto.graph.initializer[i])
            let dims = tensor.dims.map(Int.init)
            guard dims == stored.shape, tensor.dataType.description == stored.dtype,
                  ImportMap.Storage(tensor) == stored.storage, StoredEncoding.scalarType(stored.dtype) != nil else {
                throw ExportError(.importMap, file: file, subject: subject,
                                  "expected \(stored.dtype) \(stored.shape) stored \(describe(stored.storage)) (import map, parameter '\(parameter)'), found \(tensor.dataType) \(dims) stored \(describe(ImportMap.Storage(tensor)))")
            }
        }

        private func describe(_ s: ImportMap.Storage) -> String {
            s.kind == "external" ? "in '\(s.location ?? "?")' at \(s.offset ?? 0)+\(s.length ?? 0)" : s.kind
        }

        /// The group that keeps the shared initializer: the one holding the parameter the
        /// initializer is named after (so the name stays true), else the first parameter stored
        /// there by the map.
        private func ownerGroup(_ groups: [[String]], tensor: String, attribution: ConsumerAttribution) -> Int {
            if let named = attribution.canonical(tensor), let g = groups.firstIndex(where: { $0.contains(named) }) { return g }
            for entry in map.entries where entry.source.name == tensor {
                if let g = groups.firstIndex(where: { $0.contains(entry.parameter) }) { return g }
            }
            return 0
        }

        func encode(_ parameter: String, into stored: ImportMap.Stored, original: Data?) -> Data {
            ONNXWriteBack.encode(parameters, parameter, into: stored, original: original)
        }

        /// Writes a payload into initializer `i`: inline data in place, external as a range.
        private mutating func write(_ payload: Payload, into i: Int, stored: ImportMap.Stored) throws {
            if stored.storage.kind == "external" {
                let location = stored.storage.location!
                try addDataFile(location)
                let length = stored.storage.length ?? (stored.shape.reduce(1, *) * StoredEncoding.scalarType(stored.dtype)!.byteSize)
                dataFiles[location]!.ranges.append(Range(tensor: stored.name, offset: stored.storage.offset ?? 0,
                                                         length: length, payload: payload))
                return
            }
            let bytes: Data
            switch payload {
            case .bytes(let data): bytes = data
            case .parameter(let parameter, let stored):
                bytes = encode(parameter, into: stored, original: try originalBytes(i, stored: stored))
            }
            Self.setInline(&proto.graph.initializer[i], bytes)
        }

        /// Registers an external data file of the original model (checked to stay in its folder).
        private mutating func addDataFile(_ location: String) throws {
            guard dataFiles[location] == nil else { return }
            let url = try resolve(location)
            let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? -1
            guard size >= 0 else {
                throw ExportError(.source, file: url.path, "expected the external data file of \(file), found none")
            }
            dataFiles[location] = DataFile(location: location, original: url, originalSize: size)
        }

        private func resolve(_ location: String) throws -> URL {
            let root = directory.standardizedFileURL.resolvingSymlinksInPath().path
            let url = directory.appendingPathComponent(location).standardizedFileURL.resolvingSymlinksInPath()
            guard !location.hasPrefix("/"), url.path.hasPrefix(root.hasSuffix("/") ? root : root + "/") else {
                throw ExportError(.source, file: file, subject: "external data location '\(location)'",
                                  "expected a path inside \(root), found one resolving to \(url.path)")
            }
            return url
        }

        /// The stored bytes of initializer `i` as they are in the original model (little-endian).
        func originalBytes(_ i: Int, stored: ImportMap.Stored) throws -> Data {
            let t = proto.graph.initializer[i]
            if stored.storage.kind == "external" {
                let url = try resolve(stored.storage.location!)
                let length = stored.storage.length ?? 0
                return try ONNXDataFileWriter.read(url, offset: stored.storage.offset ?? 0, length: length)
            }
            return Self.inlineBytes(t)
        }

        // MARK: - Inline storage, in the field the original used

        static func inlineBytes(_ t: Onnx_TensorProto) -> Data {
            if t.hasRawData { return t.rawData }
            switch ONNXDataType(rawValue: t.dataType) {
            case .float: return t.floatData.withUnsafeBufferPointer { Data(buffer: $0) }
            case .double: return t.doubleData.withUnsafeBufferPointer { Data(buffer: $0) }
            default:  // FLOAT16 / BFLOAT16: one 16-bit pattern per int32_data entry
                let bits = t.int32Data.map { UInt16(truncatingIfNeeded: $0) }
                return bits.withUnsafeBufferPointer { Data(buffer: $0) }
            }
        }

        static func setInline(_ t: inout Onnx_TensorProto, _ bytes: Data) {
            if t.hasRawData { t.rawData = bytes; return }
            bytes.withUnsafeBytes { raw in
                switch ONNXDataType(rawValue: t.dataType) {
                case .float: t.floatData = Array(raw.bindMemory(to: Float.self))
                case .double: t.doubleData = Array(raw.bindMemory(to: Double.self))
                default: t.int32Data = raw.bindMemory(to: UInt16.self).map { Int32($0) }
                }
            }
        }

        // MARK: - Splitting a shared initializer

        private mutating func split(tensor i: Int, stored: ImportMap.Stored, owner: [String],
                                    others: [(bytes: Data, parameters: [String])], attribution: ConsumerAttribution) throws {
            let original = proto.graph.initializer[i]
            var used = valueNames()
            var newNames: [String] = []
            for group in others {
                var name = group.parameters[0]
                var n = 1
                while used.contains(name) {
                    name = group.parameters[0] + (n == 1 ? ".split" : ".split\(n)")
                    n += 1
                }
                used.insert(name)
                newNames.append(name)
            }
            let rewires = try SharedInitializerSplit.rewires(
                tensor: original.name, owner: owner, groups: others.map(\.parameters), attribution: attribution,
                graph: proto.graph, file: file)
            for (g, group) in others.enumerated() {
                var copy = original
                copy.name = newNames[g]
                if stored.storage.kind == "external" {
                    let location = stored.storage.location!
                    var data = dataFiles[location]!
                    let offset = (data.end + ONNXWriteBack.appendAlignment - 1) / ONNXWriteBack.appendAlignment * ONNXWriteBack.appendAlignment
                    data.appended.append((offset, group.bytes))
                    dataFiles[location] = data
                    copy.externalData = [entry("location", location), entry("offset", "\(offset)"), entry("length", "\(group.bytes.count)")]
                } else {
                    Self.setInline(&copy, group.bytes)
                    growth += group.bytes.count + original.name.utf8.count + 64
                }
                proto.graph.initializer.append(copy)
                index[copy.name] = proto.graph.initializer.count - 1
                // IR < 4 lists initializers among the graph inputs too: keep the new one there.
                if let input = proto.graph.input.first(where: { $0.name == original.name }) {
                    var renamed = input
                    renamed.name = copy.name
                    proto.graph.input.append(renamed)
                }
                var rewired: [String] = []
                for edge in rewires[g] {
                    proto.graph.node[edge.node].input[edge.input] = copy.name
                    rewired.append("node '\(proto.graph.node[edge.node].name)' input \(edge.input)")
                }
                splits.append(Split(parameters: group.parameters, from: original.name, tensor: copy.name, rewired: rewired))
            }
        }

        private func entry(_ key: String, _ value: String) -> Onnx_StringStringEntryProto {
            var e = Onnx_StringStringEntryProto()
            e.key = key
            e.value = value
            return e
        }

        /// Every value name of the main graph (a new initializer must not reuse one).
        private func valueNames() -> Set<String> {
            var names = Set(proto.graph.initializer.map(\.name))
            for node in proto.graph.node {
                names.formUnion(node.input)
                names.formUnion(node.output)
            }
            for v in proto.graph.input + proto.graph.output + proto.graph.valueInfo { names.insert(v.name) }
            return names
        }

        // MARK: - The 2 GB protobuf limit

        /// When the model (inline data included) could pass `limit`, moves every inline
        /// initializer of 1 KiB or more into `<onnxName>.data`, as `onnx`'s
        /// `convert_model_to_external_data` does.
        mutating func keepUnderLimit(_ limit: Int, onnxName: String) throws {
            // Half-precision values in int32_data are varints: a changed value may take 2 bytes more.
            let varintSlack = proto.graph.initializer.reduce(0) { $0 + ($1.hasRawData ? 0 : 2 * $1.int32Data.count) }
            let estimate = sourceFileSize + growth + varintSlack
            guard estimate > limit else { return }
            let location = onnxName + ".data"
            if dataFiles[location] == nil {
                let existing = directory.appendingPathComponent(location)
                if FileManager.default.fileExists(atPath: existing.path) {
                    try addDataFile(location)
                } else {
                    dataFiles[location] = DataFile(location: location, original: nil, originalSize: 0)
                }
            }
            var movedBytes = 0
            for i in proto.graph.initializer.indices {
                let t = proto.graph.initializer[i]
                guard t.dataLocation != .external, ONNXDataType(rawValue: t.dataType).scalarType != nil else { continue }
                let bytes = Self.inlineBytes(t)
                guard bytes.count >= 1024 else { continue }
                var data = dataFiles[location]!
                let offset = (data.end + ONNXWriteBack.appendAlignment - 1) / ONNXWriteBack.appendAlignment * ONNXWriteBack.appendAlignment
                data.appended.append((offset, bytes))
                dataFiles[location] = data
                var moved = t
                moved.clearRawData()
                moved.floatData = []
                moved.int32Data = []
                moved.doubleData = []
                moved.int64Data = []
                moved.uint64Data = []
                moved.dataLocation = .external
                moved.externalData = [entry("location", location), entry("offset", "\(offset)"), entry("length", "\(bytes.count)")]
                proto.graph.initializer[i] = moved
                movedBytes += bytes.count
                self.moved += 1
            }
            // What is left is the graph and small constants: serializing it is cheap.
            let size = ((try? proto.serializedBytes()) as Data?)?.count ?? Int.max
            guard size <= limit else {
                throw ExportError(.unsupported, file: file,
                                  "expected the graph without its weights to fit the protobuf limit of \(limit) bytes, found \(size) bytes after moving \(movedBytes) bytes of initializers to \(location)")
            }
        }
    }
}
