import Transformer
import Foundation
import ModelFiles
import Tensors

/// A parameter's Float32 values turned into the elements of a stored tensor: its layout
/// (transposed or not) and its element type, as little-endian bytes.
///
/// An element whose original stored value already reads back as the parameter's Float32 value
/// keeps its original bits: an untrained export then reproduces the original tensors exactly,
/// even for types that Float32 cannot hold (DOUBLE), and training changes only what it changed.
/// Other elements are rounded to nearest even (FLOAT16, BFLOAT16).
enum StoredEncoding {
    /// The float element types an import reads (and an export writes back).
    static func scalarType(_ dtype: String) -> ScalarType? {
        switch dtype {
        case "FLOAT": return .float32
        case "FLOAT16": return .float16
        case "BFLOAT16": return .bfloat16
        case "DOUBLE": return .float64
        default: return nil
        }
    }

    /// `values` in Hugging Face layout `shape` (2-D when `transposed`), in stored element order.
    static func storedOrder(_ values: UnsafePointer<Float>, shape: [Int], transposed: Bool) -> [Float] {
        let count = shape.reduce(1, *)
        guard transposed, shape.count == 2 else { return Array(UnsafeBufferPointer(start: values, count: count)) }
        let rows = shape[0], cols = shape[1]
        // stored [cols, rows]: stored[j * rows + i] = values[i * cols + j]
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            WeightReader.transposeChunk(values, firstRow: 0, rows: rows, cols: cols, totalRows: rows, into: out.baseAddress!)
            initialized = count
        }
    }

    /// Little-endian bytes of `floats` as `type`; `original` (same length in bytes) supplies the
    /// bits of every element whose value is unchanged.
    static func bytes(_ floats: [Float], as type: ScalarType, original: Data?) -> Data {
        let size = type.byteSize
        var out = Data(count: floats.count * size)
        let original = original.flatMap { $0.count == floats.count * size ? $0 : nil } ?? Data()
        out.withUnsafeMutableBytes { (dest: UnsafeMutableRawBufferPointer) in
            original.withUnsafeBytes { (src: UnsafeRawBufferPointer) in
                floats.withUnsafeBufferPointer { values in
                    let keep = src.count == dest.count
                    for i in 0..<values.count {
                        let v = values[i]
                        if type != .float32, keep, decode(src, i, type).bitPattern == v.bitPattern {
                            (dest.baseAddress! + i * size).copyMemory(from: src.baseAddress! + i * size, byteCount: size)
                            continue
                        }
                        switch type {
                        // Float32 -> FLOAT is exact: the bits are the value.
                        case .float32: dest.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self)
                        case .float16: dest.storeBytes(of: HalfPrecision.float16Bits(from: v).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
                        case .bfloat16: dest.storeBytes(of: HalfPrecision.bfloat16Bits(from: v).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
                        default: dest.storeBytes(of: Double(v).bitPattern.littleEndian, toByteOffset: 8 * i, as: UInt64.self)
                        }
                    }
                }
            }
        }
        return out
    }

    /// Element `i` of little-endian `raw` of `type`, as Float32 (what the importer reads).
    @inline(__always)
    static func decode(_ raw: UnsafeRawBufferPointer, _ i: Int, _ type: ScalarType) -> Float {
        switch type {
        case .float32: return Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
        case .float16: return HalfPrecision.float(fromFloat16Bits: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
        case .bfloat16: return HalfPrecision.float(fromBFloat16Bits: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
        default: return Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
        }
    }
}
