import Foundation

/// One graph node with lookups by name for attributes and `metadata_props`.
public struct ONNXNode: Sendable {
    public let proto: Onnx_NodeProto
    public let file: String
    let externalFiles: ONNXExternalFiles

    public var name: String { proto.name }
    public var opType: String { proto.opType }
    public var domain: String { proto.domain }
    public var inputs: [String] { proto.input }
    public var outputs: [String] { proto.output }

    /// `metadata_props` as a dictionary; the torch dynamo exporter stores e.g.
    /// `pkg.torch.onnx.name_scopes` = "['', 'layers.0', 'mlp']" here. Later duplicates win.
    public var metadata: [String: String] {
        var result: [String: String] = [:]
        for entry in proto.metadataProps { result[entry.key] = entry.value }
        return result
    }

    public func attribute(named name: String) -> Onnx_AttributeProto? {
        proto.attribute.first { $0.name == name }
    }

    private var subject: String { "node '\(proto.name)' (\(proto.opType))" }

    private func typed(_ name: String, _ type: Onnx_AttributeProto.AttributeType) throws -> Onnx_AttributeProto? {
        guard let attribute = attribute(named: name) else { return nil }
        // IR < 0.0.2 files may omit `type`; then trust the caller's expectation.
        guard attribute.type == type || attribute.type == .undefined else {
            throw ModelFileError(.malformed, file: file, subject: "\(subject) attribute '\(name)'",
                                 "expected type \(type), found \(attribute.type)")
        }
        return attribute
    }

    public func float(_ name: String) throws -> Float? { try typed(name, .float)?.f }
    public func int(_ name: String) throws -> Int64? { try typed(name, .int)?.i }
    public func floats(_ name: String) throws -> [Float]? { try typed(name, .floats)?.floats }
    public func ints(_ name: String) throws -> [Int64]? { try typed(name, .ints)?.ints }
    public func string(_ name: String) throws -> String? {
        guard let bytes = try typed(name, .string)?.s else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
    public func tensor(_ name: String) throws -> ONNXTensor? {
        guard let attribute = try typed(name, .tensor) else { return nil }
        return ONNXTensor(proto: attribute.t, file: file, externalFiles: externalFiles)
    }

    /// The value of a `Constant` node as a tensor: its `value` attribute, or `value_float`
    /// (FLOAT []), `value_int` (INT64 []), `value_floats` (FLOAT [n]), `value_ints` (INT64 [n]).
    /// Nil when the node is not a Constant; throws for the sparse and string forms.
    public func constantValue() throws -> ONNXTensor? {
        guard proto.opType == "Constant", proto.domain.isEmpty || proto.domain == "ai.onnx" else { return nil }
        var tensor = Onnx_TensorProto()
        tensor.name = proto.output.first ?? proto.name
        if let value = try self.tensor("value") {
            var t = value.proto
            if t.name.isEmpty { t.name = tensor.name }
            return ONNXTensor(proto: t, file: file, externalFiles: externalFiles)
        } else if let f = try float("value_float") {
            tensor.dataType = ONNXDataType.float.rawValue
            tensor.floatData = [f]
        } else if let i = try int("value_int") {
            tensor.dataType = ONNXDataType.int64.rawValue
            tensor.int64Data = [i]
        } else if let fs = try floats("value_floats") {
            tensor.dataType = ONNXDataType.float.rawValue
            tensor.dims = [Int64(fs.count)]
            tensor.floatData = fs
        } else if let ints = try ints("value_ints") {
            tensor.dataType = ONNXDataType.int64.rawValue
            tensor.dims = [Int64(ints.count)]
            tensor.int64Data = ints
        } else {
            let names = proto.attribute.map(\.name)
            throw ModelFileError(.unsupported, file: file, subject: subject,
                                 "expected a value, value_float, value_int, value_floats or value_ints attribute, found \(names)")
        }
        return ONNXTensor(proto: tensor, file: file, externalFiles: externalFiles)
    }
}
