/// A safetensors `dtype` tag. Only the types this project meets are accepted; others (F8_*,
/// I16/U16/U32/U64, complex) are refused by name when the header is read.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case f64 = "F64", i64 = "I64", f32 = "F32", i32 = "I32"
    case bf16 = "BF16", f16 = "F16", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"

    public var scalarType: ScalarType {
        switch self {
        case .f64: return .float64
        case .i64: return .int64
        case .f32: return .float32
        case .i32: return .int32
        case .bf16: return .bfloat16
        case .f16: return .float16
        case .i16: return .int16
        case .i8: return .int8
        case .u8: return .uint8
        case .bool: return .bool
        }
    }

    public var byteSize: Int { scalarType.byteSize }

    /// Rank in the safetensors library's dtype order (its `Dtype` enum: BOOL < U8 < I8 < I16 <
    /// F16 < BF16 < I32 < F32 < F64 < I64). Its writer lays tensors out by descending rank, then
    /// by name; we do the same so our files are byte-identical to the Python library's.
    var layoutRank: Int {
        switch self {
        case .bool: return 0
        case .u8: return 1
        case .i8: return 2
        case .i16: return 3
        case .f16: return 4
        case .bf16: return 5
        case .i32: return 6
        case .f32: return 7
        case .f64: return 8
        case .i64: return 9
        }
    }
}
