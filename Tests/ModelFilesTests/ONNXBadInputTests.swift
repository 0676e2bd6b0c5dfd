import Foundation
import Testing
@testable import ModelFiles

/// Every malformed ONNX input throws a ModelFileError naming the file and the tensor or field.
@Suite("ONNX bad input")
struct ONNXBadInputTests {
    /// tiny.onnx with `edit` applied to the initializer called `name`.
    func editedTensor(_ name: String, _ edit: (inout Onnx_TensorProto) -> Void) throws -> ONNXTensor {
        var proto = try ONNXModel(contentsOf: Fixtures.url("tiny.onnx")).proto
        let i = try #require(proto.graph.initializer.firstIndex { $0.name == name })
        edit(&proto.graph.initializer[i])
        return ONNXModel(proto: proto, file: "edited.onnx", directory: Fixtures.directory).initializer(named: name)!
    }

    @Test func notProtobuf() {
        expectModelFileError(["bad.onnx", "ModelProto"], kind: .malformed) {
            _ = try ONNXModel(serializedData: Data([0x0F, 0xFF, 0xFF, 0xFF]), file: "bad.onnx", directory: nil)
        }
    }

    @Test func truncatedProtobuf() throws {
        let data = try Fixtures.data("tiny.onnx")
        expectModelFileError(["tiny.onnx", "ModelProto"], kind: .malformed) {
            _ = try ONNXModel(serializedData: data.prefix(data.count / 2), file: "tiny.onnx", directory: nil)
        }
    }

    @Test func missingFile() {
        expectModelFileError(["nope.onnx", "does not exist"], kind: .missing) {
            _ = try ONNXModel(contentsOf: Fixtures.url("nope.onnx"))
        }
    }

    @Test func rawDataLengthMismatch() throws {
        let t = try editedTensor("w_raw") { $0.rawData.removeLast() }
        expectModelFileError(["edited.onnx", "tensor 'w_raw'", "24 bytes of raw_data", "found 23"]) { _ = try t.floats() }
    }

    @Test func typedFieldCountMismatch() throws {
        let f = try editedTensor("w_float_data") { $0.floatData.append(1) }
        expectModelFileError(["tensor 'w_float_data'", "float_data", "found 4"]) { _ = try f.floats() }
        let h = try editedTensor("f16_int32") { $0.int32Data.removeLast() }
        expectModelFileError(["tensor 'f16_int32'", "int32_data", "found 5"]) { _ = try h.floats() }
        let i = try editedTensor("i64_data") { $0.int64Data = [] }
        expectModelFileError(["tensor 'i64_data'", "int64_data", "found 0"]) { _ = try i.int64s() }
    }

    @Test func badDims() throws {
        let negative = try editedTensor("w_raw") { $0.dims = [-2, 3] }
        expectModelFileError(["tensor 'w_raw'", "non-negative dims"]) { _ = try negative.floats() }
        let huge = try editedTensor("w_raw") { $0.dims = [Int64.max / 2, 4] }
        expectModelFileError(["tensor 'w_raw'", "fits in Int"]) { _ = try huge.floats() }
    }

    @Test func wrongAccessorOrType() throws {
        let model = try ONNXModel(contentsOf: Fixtures.url("tiny.onnx"))
        expectModelFileError(["tiny.onnx", "tensor 'w_raw'", "integer data type", "FLOAT"], kind: .unsupported) {
            _ = try model.initializer(named: "w_raw")!.int64s()
        }
        expectModelFileError(["tensor 'i64_raw'", "FLOAT16", "INT64"], kind: .unsupported) {
            _ = try model.initializer(named: "i64_raw")!.floats()
        }
        let string = try editedTensor("w_raw") { $0.dataType = ONNXDataType.string.rawValue }
        expectModelFileError(["tensor 'w_raw'", "STRING"], kind: .unsupported) { _ = try string.floats() }
        let segmented = try editedTensor("w_raw") { $0.segment.begin = 0; $0.segment.end = 3 }
        expectModelFileError(["tensor 'w_raw'", "segment"], kind: .unsupported) { _ = try segmented.floats() }
    }

    /// external.onnx's ext_a with its external_data entries replaced.
    func external(_ entries: [String: String], directory: URL? = Fixtures.directory) throws -> ONNXTensor {
        var proto = try ONNXModel(contentsOf: Fixtures.url("external.onnx")).proto
        proto.graph.initializer[0].externalData = entries.sorted { $0.key < $1.key }.map {
            var e = Onnx_StringStringEntryProto()
            e.key = $0.key
            e.value = $0.value
            return e
        }
        return ONNXModel(proto: proto, file: "external.onnx", directory: directory).initializer(named: "ext_a")!
    }

    @Test func externalDataErrors() throws {
        expectModelFileError(["external.onnx", "tensor 'ext_a'", "location", "missing.bin"], kind: .missing) {
            _ = try external(["location": "missing.bin", "offset": "0", "length": "24"]).floats()
        }
        expectModelFileError(["tensor 'ext_a'", "offset 48 + length 24", "64 bytes"], kind: .outOfBounds) {
            _ = try external(["location": "external.bin", "offset": "48", "length": "24"]).floats()
        }
        expectModelFileError(["tensor 'ext_a'", "inside", "../escape.bin"], kind: .outOfBounds) {
            _ = try external(["location": "../escape.bin", "offset": "16", "length": "24"]).floats()
        }
        expectModelFileError(["tensor 'ext_a'", "relative path", "/etc/passwd"]) {
            _ = try external(["location": "/etc/passwd"]).floats()
        }
        expectModelFileError(["tensor 'ext_a'", "'length'", "expected 24 bytes", "found 20"]) {
            _ = try external(["location": "external.bin", "offset": "16", "length": "20"]).floats()
        }
        expectModelFileError(["tensor 'ext_a'", "'offset'", "non-negative integer", "-4"]) {
            _ = try external(["location": "external.bin", "offset": "-4"]).floats()
        }
        expectModelFileError(["tensor 'ext_a'", "'location'", "found keys"], kind: .missing) {
            _ = try external(["offset": "16"]).floats()
        }
        expectModelFileError(["tensor 'ext_a'", "model folder"], kind: .missing) {
            _ = try external(["location": "external.bin", "offset": "16"], directory: nil).floats()
        }
    }
}
