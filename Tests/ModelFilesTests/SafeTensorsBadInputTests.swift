import Foundation
import Testing
@testable import ModelFiles

/// Every malformed safetensors input throws a ModelFileError naming the file and tensor/field.
@Suite("safetensors bad input")
struct SafeTensorsBadInputTests {
    /// A file with `header` as its JSON and `dataSize` zero bytes of data.
    func file(_ header: String, dataSize: Int = 16, length: UInt64? = nil) -> Data {
        var data = Data()
        withUnsafeBytes(of: (length ?? UInt64(header.utf8.count)).littleEndian) { data.append(contentsOf: $0) }
        data.append(Data(header.utf8))
        data.append(Data(count: dataSize))
        return data
    }

    func open(_ data: Data) throws { _ = try SafeTensorsFile(data: data, file: "bad.safetensors") }

    @Test func headerLength() {
        expectModelFileError(["bad.safetensors", "header length", "4 bytes"], kind: .malformed) { try open(Data([1, 2, 3, 4])) }
        expectModelFileError(["bad.safetensors", "header length", "found 9999"], kind: .outOfBounds) {
            try open(file("{}", length: 9999))
        }
        expectModelFileError(["header length", "100000000"], kind: .outOfBounds) { try open(file("{}", length: UInt64.max)) }
    }

    @Test func headerJSON() {
        expectModelFileError(["bad.safetensors", "header", "JSON"], kind: .malformed) { try open(file("{\"a\": [1,")) }
        expectModelFileError(["header", "JSON object"], kind: .malformed) { try open(file("[1, 2]")) }
        expectModelFileError(["tensor 'a'", "an object"]) { try open(file(#"{"a": 3}"#)) }
        expectModelFileError(["field '__metadata__.format'", "a string"]) {
            try open(file(#"{"__metadata__": {"format": 1}}"#))
        }
    }

    @Test func entryFields() {
        expectModelFileError(["bad.safetensors", "tensor 'w'", "field 'dtype'", "F8_E4M3"], kind: .unsupported) {
            try open(file(#"{"w": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}}"#))
        }
        expectModelFileError(["tensor 'w'", "field 'dtype'", "a string"]) {
            try open(file(#"{"w": {"shape": [2], "data_offsets": [0, 8]}}"#))
        }
        expectModelFileError(["tensor 'w'", "field 'shape'", "non-negative"]) {
            try open(file(#"{"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}"#))
        }
        expectModelFileError(["tensor 'w'", "field 'data_offsets'", "[begin, end]"]) {
            try open(file(#"{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0]}}"#))
        }
    }

    @Test func offsets() {
        expectModelFileError(["tensor 'w'", "field 'data_offsets'", "<= 16", "[8, 24]"], kind: .outOfBounds) {
            try open(file(#"{"w": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}"#))
        }
        expectModelFileError(["tensor 'w'", "field 'data_offsets'", "[8, 0]"], kind: .outOfBounds) {
            try open(file(#"{"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}"#))
        }
        expectModelFileError(["tensor 'w'", "product(shape)", "found 12"], kind: .outOfBounds) {
            try open(file(#"{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 12]}}"#))
        }
        expectModelFileError(["tensor 'b'", "overlapping tensor 'a'"], kind: .outOfBounds) {
            try open(file(#"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}"#))
        }
        expectModelFileError(["tensor 'w'", "product(shape)"], kind: .outOfBounds) {
            try open(file(#"{"w": {"dtype": "F32", "shape": [2147483647, 2147483647, 4], "data_offsets": [0, 0]}}"#))
        }
    }

    @Test func lookups() throws {
        let ok = try SafeTensorsFile(data: file(#"{"w": {"dtype": "I32", "shape": [2], "data_offsets": [0, 8]}, "z": {"dtype": "F32", "shape": [0], "data_offsets": [8, 8]}}"#), file: "ok.safetensors")
        #expect(try ok.int64s("w") == [0, 0])
        #expect(try ok.floats("z") == [])
        expectModelFileError(["ok.safetensors", "tensor 'nope'"], kind: .missing) { _ = try ok.floats("nope") }
        expectModelFileError(["ok.safetensors", "tensor 'w'", "float dtype", "I32"], kind: .unsupported) { _ = try ok.floats("w") }
        expectModelFileError(["ok.safetensors", "tensor 'z'", "integer dtype", "F32"], kind: .unsupported) { _ = try ok.int64s("z") }
        expectModelFileError(["missing.safetensors", "does not exist"], kind: .missing) {
            _ = try SafeTensorsFile(contentsOf: Fixtures.url("missing.safetensors"))
        }
    }
}
