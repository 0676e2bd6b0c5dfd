/// An ONNX `TensorProto.DataType` code. A struct over the raw Int32 (not an enum) so that
/// element types newer than our .proto still load and are only refused when their values are read.
public struct ONNXDataType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let undefined = ONNXDataType(rawValue: 0)
    public static let float = ONNXDataType(rawValue: 1)
    public static let uint8 = ONNXDataType(rawValue: 2)
    public static let int8 = ONNXDataType(rawValue: 3)
    public static let uint16 = ONNXDataType(rawValue: 4)
    public static let int16 = ONNXDataType(rawValue: 5)
    public static let int32 = ONNXDataType(rawValue: 6)
    public static let int64 = ONNXDataType(rawValue: 7)
    public static let string = ONNXDataType(rawValue: 8)
    public static let bool = ONNXDataType(rawValue: 9)
    public static let float16 = ONNXDataType(rawValue: 10)
    public static let double = ONNXDataType(rawValue: 11)
    public static let uint32 = ONNXDataType(rawValue: 12)
    public static let uint64 = ONNXDataType(rawValue: 13)
    public static let bfloat16 = ONNXDataType(rawValue: 16)

    /// The fixed-width element layout, or nil for types we do not decode (strings, complex,
    /// 8/6/4/2-bit floats and ints).
    public var scalarType: ScalarType? {
        switch self {
        case .float: return .float32
        case .float16: return .float16
        case .bfloat16: return .bfloat16
        case .double: return .float64
        case .int64: return .int64
        case .int32: return .int32
        case .int16: return .int16
        case .int8: return .int8
        case .uint8: return .uint8
        case .uint16: return .uint16
        case .uint32: return .uint32
        case .uint64: return .uint64
        case .bool: return .bool
        default: return nil
        }
    }

    public var description: String {
        let names: [Int32: String] = [
            0: "UNDEFINED", 1: "FLOAT", 2: "UINT8", 3: "INT8", 4: "UINT16", 5: "INT16", 6: "INT32",
            7: "INT64", 8: "STRING", 9: "BOOL", 10: "FLOAT16", 11: "DOUBLE", 12: "UINT32", 13: "UINT64",
            14: "COMPLEX64", 15: "COMPLEX128", 16: "BFLOAT16", 17: "FLOAT8E4M3FN", 18: "FLOAT8E4M3FNUZ",
            19: "FLOAT8E5M2", 20: "FLOAT8E5M2FNUZ", 21: "UINT4", 22: "INT4", 23: "FLOAT4E2M1",
            24: "FLOAT8E8M0", 25: "UINT2", 26: "INT2", 27: "FLOAT6E2M3", 28: "FLOAT6E3M2",
        ]
        return names[rawValue] ?? "data_type \(rawValue)"
    }
}
