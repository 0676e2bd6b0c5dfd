/// The tensor element types a GGUF file may name (ggml's `ggml_type` ids), with their block
/// geometry: `blockSize` elements are stored in `typeSize` bytes. Types this module cannot
/// dequantise are still known by size, so that a file holding one can be laid out and checked
/// and the refusal can name the tensor and the type.
public enum GGMLType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9
    case q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15
    case iq2_XXS = 16, iq2_XS = 17, iq3_XXS = 18, iq1_S = 19, iq4_NL = 20, iq3_S = 21, iq2_S = 22, iq4_XS = 23
    case i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28, iq1_M = 29, bf16 = 30
    case tq1_0 = 34, tq2_0 = 35, mxfp4 = 39, nvfp4 = 40, q1_0 = 41

    /// (elements per block, bytes per block), as in the GGUF spec's type table.
    public var geometry: (blockSize: Int, typeSize: Int) {
        switch self {
        case .f32: return (1, 4)
        case .f16, .bf16: return (1, 2)
        case .q4_0: return (32, 18)
        case .q4_1: return (32, 20)
        case .q5_0: return (32, 22)
        case .q5_1: return (32, 24)
        case .q8_0: return (32, 34)
        case .q8_1: return (32, 40)
        case .q2_K: return (256, 84)
        case .q3_K: return (256, 110)
        case .q4_K: return (256, 144)
        case .q5_K: return (256, 176)
        case .q6_K: return (256, 210)
        case .q8_K: return (256, 292)
        case .iq2_XXS: return (256, 66)
        case .iq2_XS: return (256, 74)
        case .iq3_XXS: return (256, 98)
        case .iq1_S: return (256, 50)
        case .iq4_NL: return (32, 18)
        case .iq3_S: return (256, 110)
        case .iq2_S: return (256, 82)
        case .iq4_XS: return (256, 136)
        case .i8: return (1, 1)
        case .i16: return (1, 2)
        case .i32: return (1, 4)
        case .i64, .f64: return (1, 8)
        case .iq1_M: return (256, 56)
        case .tq1_0: return (256, 54)
        case .tq2_0: return (256, 66)
        case .mxfp4: return (32, 17)
        case .nvfp4: return (64, 36)
        case .q1_0: return (128, 18)
        }
    }

    public var blockSize: Int { geometry.blockSize }
    public var typeSize: Int { geometry.typeSize }

    /// The types `GGUFDequantize` turns into Float32: those of the common downloads.
    public static let dequantizable: [GGMLType] = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_K, .q5_K, .q6_K]
    public var isDequantizable: Bool { Self.dequantizable.contains(self) }

    /// The name llama.cpp and the `gguf` package print: "F32", "Q4_K", "BF16", ...
    public var description: String { Self.names[self]! }

    private static let names: [GGMLType: String] = [
        .f32: "F32", .f16: "F16", .q4_0: "Q4_0", .q4_1: "Q4_1", .q5_0: "Q5_0", .q5_1: "Q5_1", .q8_0: "Q8_0",
        .q8_1: "Q8_1", .q2_K: "Q2_K", .q3_K: "Q3_K", .q4_K: "Q4_K", .q5_K: "Q5_K", .q6_K: "Q6_K", .q8_K: "Q8_K",
        .iq2_XXS: "IQ2_XXS", .iq2_XS: "IQ2_XS", .iq3_XXS: "IQ3_XXS", .iq1_S: "IQ1_S", .iq4_NL: "IQ4_NL",
        .iq3_S: "IQ3_S", .iq2_S: "IQ2_S", .iq4_XS: "IQ4_XS", .i8: "I8", .i16: "I16", .i32: "I32", .i64: "I64",
        .f64: "F64", .iq1_M: "IQ1_M", .bf16: "BF16", .tq1_0: "TQ1_0", .tq2_0: "TQ2_0", .mxfp4: "MXFP4",
        .nvfp4: "NVFP4", .q1_0: "Q1_0",
    ]

    /// Bytes of `elements` values, nil when `elements` is not a whole number of blocks or the
    /// size overflows.
    public func byteCount(elements: Int) -> Int? {
        guard elements >= 0, elements % blockSize == 0 else { return nil }
        let (bytes, overflow) = (elements / blockSize).multipliedReportingOverflow(by: typeSize)
        return overflow ? nil : bytes
    }
}
