import Foundation
import SwiftProtobuf

/// An ONNX model file: the parsed `ModelProto` plus the context to read tensor values (the file
/// name for errors, the folder that external data is resolved in).
///
/// `proto` is the whole message and may be edited; fields this module's .proto does not declare
/// are kept as unknown fields and written back unchanged by `write(to:)`.
///
/// Note: protobuf parsing copies `raw_data` out of the mapped file; only external data stays
/// mapped. Models larger than 2 GB must use external data anyway (protobuf's size limit).
public struct ONNXModel: Sendable {
    public var proto: Onnx_ModelProto
    /// File name for error messages.
    public let file: String
    public let externalFiles: ONNXExternalFiles

    /// Loads `url` (memory-mapped) and parses it as a `ModelProto`.
    public init(contentsOf url: URL) throws {
        let data = try mapFile(url, what: "ONNX model")
        try self.init(serializedData: data, file: url.lastPathComponent, directory: url.deletingLastPathComponent())
    }

    /// Parses serialized `ModelProto` bytes; `directory` is where external data is looked up.
    public init(serializedData data: Data, file: String, directory: URL?) throws {
        do {
            var options = BinaryDecodingOptions()
            options.messageDepthLimit = 64  // bounds recursion on crafted nested graphs
            proto = try Onnx_ModelProto(serializedBytes: data, options: options)
        } catch {
            throw ModelFileError(.malformed, file: file,
                                 "expected a protobuf ONNX ModelProto of \(data.count) bytes, found: \(PlainErrorText.describe(error))")
        }
        self.file = file
        externalFiles = ONNXExternalFiles(directory: directory)
    }

    /// Wraps an in-memory model (e.g. one built for export).
    public init(proto: Onnx_ModelProto, file: String = "<memory>", directory: URL? = nil) {
        self.proto = proto
        self.file = file
        externalFiles = ONNXExternalFiles(directory: directory)
    }

    public var graph: Onnx_GraphProto { proto.graph }

    /// Initializers in file order.
    public var initializers: [ONNXTensor] {
        proto.graph.initializer.map { wrap($0) }
    }

    /// The first initializer called `name`, or nil.
    public func initializer(named name: String) -> ONNXTensor? {
        proto.graph.initializer.first { $0.name == name }.map { wrap($0) }
    }

    /// Initializers by name; throws when a name is repeated (ambiguous weights).
    public func initializersByName() throws -> [String: ONNXTensor] {
        var result: [String: ONNXTensor] = [:]
        for tensor in initializers {
            guard result[tensor.name] == nil else {
                throw ModelFileError(.malformed, file: file, subject: "tensor '\(tensor.name)'",
                                     "expected unique initializer names, found it twice")
            }
            result[tensor.name] = tensor
        }
        return result
    }

    /// Nodes of the main graph in file (topological) order.
    public var nodes: [ONNXNode] {
        proto.graph.node.map { ONNXNode(proto: $0, file: file, externalFiles: externalFiles) }
    }

    /// Operator set versions by domain; the default domain is "" ("ai.onnx" is folded into it).
    public var opsetImports: [String: Int64] {
        var result: [String: Int64] = [:]
        for opset in proto.opsetImport {
            result[opset.domain == "ai.onnx" ? "" : opset.domain] = opset.version
        }
        return result
    }

    /// Wraps a tensor of this model (e.g. from a node attribute) so its values can be read.
    public func wrap(_ tensor: Onnx_TensorProto) -> ONNXTensor {
        ONNXTensor(proto: tensor, file: file, externalFiles: externalFiles)
    }

    /// The serialized `ModelProto`, unknown fields included.
    public func serializedData() throws -> Data {
        do {
            return try proto.serializedBytes()
        } catch {
            throw ModelFileError(.malformed, file: file, "cannot serialize the ModelProto: \(PlainErrorText.describe(error))")
        }
    }

    /// Writes the model to `url` through a temporary file and a rename. External data is not
    /// copied: write next to the original file (or copy the data files) to keep `location` valid.
    public func write(to url: URL) throws {
        try AtomicFile.write(try serializedData(), to: url)
    }
}
