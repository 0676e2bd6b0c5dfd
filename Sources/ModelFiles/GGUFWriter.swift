import Foundation

/// Writes GGUF version 3 bytes in the layout `GGUFFile` reads: header, metadata in the given
/// order, tensor infos in the given order, each tensor's data at the next multiple of the
/// alignment (the order and padding llama.cpp's writers use).
public enum GGUFWriter {
    public struct Tensor {
        public var name: String
        /// GGUF order (fastest-varying first).
        public var dims: [Int]
        public var type: GGMLType
        public var bytes: Data
        public init(name: String, dims: [Int], type: GGMLType, bytes: Data) {
            self.name = name; self.dims = dims; self.type = type; self.bytes = bytes
        }
    }

    public static func encode(version: UInt32 = 3, metadata: [(key: String, value: GGUFValue)], tensors: [Tensor]) throws -> Data {
        var alignment = GGUFFile.defaultAlignment
        if let value = metadata.first(where: { $0.key == "general.alignment" })?.value, case .uint32(let a) = value {
            alignment = Int(a)
        }
        var out = Data(GGUFFile.magic)
        append(&out, version)
        append(&out, UInt64(tensors.count))
        append(&out, UInt64(metadata.count))
        for (key, value) in metadata {
            appendString(&out, key)
            append(&out, value.typeID)
            appendValue(&out, value)
        }
        var offset = 0
        var offsets: [Int] = []
        for t in tensors {
            guard let size = t.type.byteCount(elements: t.dims.reduce(1, *)), size == t.bytes.count else {
                throw ModelFileError(.malformed, file: "GGUF output", subject: "tensor '\(t.name)'",
                                     "expected \(t.type) \(t.dims) to take whole blocks, found \(t.bytes.count) bytes")
            }
            offsets.append(offset)
            offset = (offset + size + alignment - 1) / alignment * alignment
        }
        for (t, at) in zip(tensors, offsets) {
            appendString(&out, t.name)
            append(&out, UInt32(t.dims.count))
            for d in t.dims { append(&out, UInt64(d)) }
            append(&out, t.type.rawValue)
            append(&out, UInt64(at))
        }
        let dataStart = (out.count + alignment - 1) / alignment * alignment
        out.append(Data(count: dataStart - out.count))
        for (t, at) in zip(tensors, offsets) {
            out.append(Data(count: dataStart + at - out.count))
            out.append(t.bytes)
        }
        out.append(Data(count: (out.count - dataStart + alignment - 1) / alignment * alignment + dataStart - out.count))
        return out
    }

    static func append<T: FixedWidthInteger>(_ out: inout Data, _ value: T) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    static func appendString(_ out: inout Data, _ text: String) {
        append(&out, UInt64(text.utf8.count))
        out.append(contentsOf: Array(text.utf8))
    }

    static func appendValue(_ out: inout Data, _ value: GGUFValue) {
        switch value {
        case .uint8(let v): append(&out, v)
        case .int8(let v): append(&out, v)
        case .uint16(let v): append(&out, v)
        case .int16(let v): append(&out, v)
        case .uint32(let v): append(&out, v)
        case .int32(let v): append(&out, v)
        case .float32(let v): append(&out, v.bitPattern)
        case .bool(let v): out.append(v ? 1 : 0)
        case .string(let s): appendString(&out, s)
        case .array(let type, let items):
            append(&out, type)
            append(&out, UInt64(items.count))
            for item in items { appendValue(&out, item) }
        case .uint64(let v): append(&out, v)
        case .int64(let v): append(&out, v)
        case .float64(let v): append(&out, v.bitPattern)
        }
    }
}
