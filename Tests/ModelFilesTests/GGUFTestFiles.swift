import Foundation
@testable import ModelFiles

/// Hand-built GGUF bytes for the bad-input and fuzz tests: every field can be set to a wrong
/// value on purpose (the `gguf` package refuses to write such files).
struct GGUFTestFile {
    struct Tensor {
        var name: String
        var dims: [UInt64]
        var type: UInt32
        var offset: UInt64
        var nDims: UInt32? = nil  // override of dims.count
    }

    var magic: [UInt8] = Array("GGUF".utf8)
    var version: UInt32 = 3
    var tensorCount: UInt64? = nil    // override of tensors.count
    var metadataCount: UInt64? = nil  // override of metadata.count
    /// (key, value type id, encoded value bytes).
    var metadata: [(String, UInt32, [UInt8])] = [("general.architecture", 8, GGUFTestFile.string("test"))]
    var tensors: [Tensor] = [
        Tensor(name: "a", dims: [4], type: GGMLType.f32.rawValue, offset: 0),
        Tensor(name: "b", dims: [32, 2], type: GGMLType.q8_0.rawValue, offset: 32),
    ]
    var alignment = 32
    var dataBytes = 32 + 68

    static func u32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    static func u64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    static func string(_ s: String, length: UInt64? = nil) -> [UInt8] {
        u64(length ?? UInt64(s.utf8.count)) + Array(s.utf8)
    }

    var bytes: [UInt8] {
        var out = magic + Self.u32(version)
        out += Self.u64(tensorCount ?? UInt64(tensors.count))
        out += Self.u64(metadataCount ?? UInt64(metadata.count))
        for (key, type, value) in metadata { out += Self.string(key) + Self.u32(type) + value }
        for t in tensors {
            out += Self.string(t.name) + Self.u32(t.nDims ?? UInt32(t.dims.count))
            for d in t.dims { out += Self.u64(d) }
            out += Self.u32(t.type) + Self.u64(t.offset)
        }
        while out.count % alignment != 0 { out.append(0) }
        // Data: a counting pattern whose Q8_0 scale bytes (f16 1.0 = 0x3c00) are fixed below.
        var data = (0..<dataBytes).map { UInt8(truncatingIfNeeded: $0) }
        if dataBytes >= 32 + 68 { data[32] = 0x00; data[33] = 0x3c; data[66] = 0x00; data[67] = 0x3c }
        return out + data
    }

    var data: Data { Data(bytes) }

    func open(_ name: String = "bad.gguf") throws -> GGUFFile { try GGUFFile(data: data, file: name) }
}
