import Foundation
import Tensors

/// Element types that appear as fixed-width little-endian bytes in ONNX raw_data, ONNX external
/// data and safetensors. One enum for both formats: each format maps its own type tags here.
public enum ScalarType: String, Sendable, CaseIterable {
    case float32, float16, bfloat16, float64
    case int64, int32, int16, int8, uint8, uint16, uint32, uint64, bool

    public var byteSize: Int {
        switch self {
        case .float64, .int64, .uint64: return 8
        case .float32, .int32, .uint32: return 4
        case .float16, .bfloat16, .int16, .uint16: return 2
        case .int8, .uint8, .bool: return 1
        }
    }

    public var isFloatingPoint: Bool {
        switch self {
        case .float32, .float16, .bfloat16, .float64: return true
        default: return false
        }
    }
}

/// Decoding of `count` little-endian elements from a byte buffer. The caller has checked
/// `bytes.count == count * type.byteSize`; these functions check again and never read past it.
enum LittleEndian {
    /// Float values of a floating-point element type (F64 is narrowed to Float).
    static func floats(_ bytes: Data, _ type: ScalarType) -> [Float]? {
        guard type.isFloatingPoint, bytes.count % type.byteSize == 0 else { return nil }
        let count = bytes.count / type.byteSize
        return bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> [Float] in
            [Float](unsafeUninitializedCapacity: count) { out, initialized in
                for i in 0..<count {
                    let at = i * type.byteSize
                    switch type {
                    case .float32:
                        out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
                    case .float16:
                        out[i] = HalfPrecision.float(fromFloat16Bits: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt16.self)))
                    case .bfloat16:
                        out[i] = HalfPrecision.float(fromBFloat16Bits: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt16.self)))
                    default:  // .float64
                        out[i] = Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt64.self))))
                    }
                }
                initialized = count
            }
        }
    }

    /// Int64 values of an integer (or bool) element type. UINT64 above Int64.max is refused (nil).
    static func int64s(_ bytes: Data, _ type: ScalarType) -> [Int64]? {
        guard !type.isFloatingPoint, bytes.count % type.byteSize == 0 else { return nil }
        let count = bytes.count / type.byteSize
        var overflow = false
        let values = bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> [Int64] in
            [Int64](unsafeUninitializedCapacity: count) { out, initialized in
                for i in 0..<count {
                    let at = i * type.byteSize
                    switch type {
                    case .int64: out[i] = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: Int64.self))
                    case .uint64:
                        let v = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt64.self))
                        if v > UInt64(Int64.max) { overflow = true }
                        out[i] = Int64(truncatingIfNeeded: v)
                    case .int32: out[i] = Int64(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: Int32.self)))
                    case .uint32: out[i] = Int64(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
                    case .int16: out[i] = Int64(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: Int16.self)))
                    case .uint16: out[i] = Int64(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt16.self)))
                    case .int8: out[i] = Int64(raw.load(fromByteOffset: at, as: Int8.self))
                    default: out[i] = Int64(raw[at])  // .uint8, .bool
                    }
                }
                initialized = count
            }
        }
        return overflow ? nil : values
    }

    /// Little-endian bytes of Float values stored as `type` (float32, float16 or bfloat16, float64).
    static func bytes(of values: [Float], as type: ScalarType) -> Data {
        var out = Data(capacity: values.count * type.byteSize)
        for v in values {
            switch type {
            case .float16: withUnsafeBytes(of: HalfPrecision.float16Bits(from: v).littleEndian) { out.append(contentsOf: $0) }
            case .bfloat16: withUnsafeBytes(of: HalfPrecision.bfloat16Bits(from: v).littleEndian) { out.append(contentsOf: $0) }
            case .float64: withUnsafeBytes(of: Double(v).bitPattern.littleEndian) { out.append(contentsOf: $0) }
            default: withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) }
            }
        }
        return out
    }

    /// Little-endian bytes of Int64 values as an integer type (values are truncated to its width).
    static func bytes(of values: [Int64], as type: ScalarType) -> Data {
        var out = Data(capacity: values.count * type.byteSize)
        for v in values {
            withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0.prefix(type.byteSize)) }
        }
        return out
    }
}

/// Product of dimensions with overflow and sign checks; nil when a dimension is negative or the
/// product (times `elementSize`) overflows Int.
func elementCount(_ dims: [Int], elementSize: Int = 1) -> Int? {
    var n = elementSize
    for d in dims {
        guard d >= 0 else { return nil }
        let (p, o) = n.multipliedReportingOverflow(by: d)
        if o { return nil }
        n = p
    }
    return n  // elements when elementSize is 1, bytes otherwise
}
