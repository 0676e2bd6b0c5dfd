import Tensors

/// Float32 to ggml blocks by llama.cpp's reference algorithms (`quantize_row_*_ref`, as the
/// `gguf` package implements them), with the same float32 operations in the same order so the
/// bytes are identical. Block layouts as in `GGUFDequantize`. The K-quants (Q4_K, Q5_K, Q6_K),
/// which the package cannot quantise, follow llama.cpp's reference algorithm in `GGUFQuantizeK`.
public enum GGUFQuantize {
    public static let quantizable: [GGMLType] = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_K, .q5_K, .q6_K]

    /// `values.count` must be a whole number of `type`'s blocks.
    public static func bytes(_ values: UnsafeBufferPointer<Float>, as type: GGMLType) throws -> [UInt8] {
        guard quantizable.contains(type), let size = type.byteCount(elements: values.count) else {
            throw ModelFileError(.unsupported, file: "GGUF output", subject: "type \(type)",
                                 "expected one of \(quantizable.map(\.description).joined(separator: ", ")) for \(values.count) values in whole blocks, found \(type)")
        }
        var out = [UInt8](repeating: 0, count: size)
        let blocks = values.count / type.blockSize
        let x = values.baseAddress!
        switch type {
        case .f32: for i in 0..<values.count { put32(&out, i * 4, values[i].bitPattern) }
        case .f16: for i in 0..<values.count { put16(&out, i * 2, HalfPrecision.float16Bits(from: values[i])) }
        case .bf16: for i in 0..<values.count { put16(&out, i * 2, HalfPrecision.bfloat16Bits(from: values[i])) }
        case .q8_0: for b in 0..<blocks { q8_0(x + b * 32, &out, b * 34) }
        case .q4_0: for b in 0..<blocks { symmetric(x + b * 32, &out, b * 18, levels: 16) }
        case .q5_0: for b in 0..<blocks { symmetric(x + b * 32, &out, b * 22, levels: 32) }
        case .q4_1: for b in 0..<blocks { withMinimum(x + b * 32, &out, b * 20, levels: 16) }
        case .q5_1: for b in 0..<blocks { withMinimum(x + b * 32, &out, b * 24, levels: 32) }
        case .q4_K: for b in 0..<blocks { GGUFQuantizeK.qK(x + b * 256, &out, b * 144, fifthBit: false) }
        case .q5_K: for b in 0..<blocks { GGUFQuantizeK.qK(x + b * 256, &out, b * 176, fifthBit: true) }
        case .q6_K: for b in 0..<blocks { GGUFQuantizeK.q6_K(x + b * 256, &out, b * 210) }
        default: break
        }
        return out
    }

    static func put16(_ out: inout [UInt8], _ at: Int, _ v: UInt16) { out[at] = UInt8(v & 0xFF); out[at + 1] = UInt8(v >> 8) }
    static func put32(_ out: inout [UInt8], _ at: Int, _ v: UInt32) { for k in 0..<4 { out[at + k] = UInt8((v >> (8 * UInt32(k))) & 0xFF) } }

    /// Q8_0: d = max|x| / 127, q = round-half-away(x / d).
    static func q8_0(_ x: UnsafePointer<Float>, _ out: inout [UInt8], _ at: Int) {
        var amax: Float = 0
        for j in 0..<32 { amax = max(amax, abs(x[j])) }
        let d = amax / 127
        let id: Float = d == 0 ? 0 : 1 / d
        put16(&out, at, HalfPrecision.float16Bits(from: d))
        for j in 0..<32 {
            out[at + 2 + j] = UInt8(bitPattern: Int8((x[j] * id).rounded(.toNearestOrAwayFromZero)))
        }
    }

    /// Q4_0 / Q5_0: d = (the value of largest magnitude, with its sign) / -(levels / 2);
    /// q = trunc(x / d + levels / 2 + 0.5) clipped to 0 ... levels - 1.
    static func symmetric(_ x: UnsafePointer<Float>, _ out: inout [UInt8], _ at: Int, levels: Int) {
        var imax = 0
        for j in 1..<32 where abs(x[j]) > abs(x[imax]) { imax = j }
        let d = x[imax] / -Float(levels / 2)
        let id: Float = d == 0 ? 0 : 1 / d
        let offset = Float(levels / 2) + 0.5
        var q = [Int](repeating: 0, count: 32)
        for j in 0..<32 { q[j] = min(levels - 1, max(0, Int((x[j] * id + offset).rounded(.towardZero)))) }
        put16(&out, at, HalfPrecision.float16Bits(from: d))
        pack(q, &out, at + 2, fifthBits: levels == 32)
    }

    /// Q4_1 / Q5_1: d = (max - min) / (levels - 1), m = min; q = trunc((x - min) / d + 0.5) clipped.
    static func withMinimum(_ x: UnsafePointer<Float>, _ out: inout [UInt8], _ at: Int, levels: Int) {
        var lo = x[0], hi = x[0]
        for j in 1..<32 { lo = min(lo, x[j]); hi = max(hi, x[j]) }
        let d = (hi - lo) / Float(levels - 1)
        let id: Float = d == 0 ? 0 : 1 / d
        var q = [Int](repeating: 0, count: 32)
        for j in 0..<32 { q[j] = min(levels - 1, max(0, Int(((x[j] - lo) * id + 0.5).rounded(.towardZero)))) }
        put16(&out, at, HalfPrecision.float16Bits(from: d))
        put16(&out, at + 2, HalfPrecision.float16Bits(from: lo))
        pack(q, &out, at + 4, fifthBits: levels == 32)
    }

    /// Low nibbles: element j in qs[j] (j < 16), element j + 16 in its high nibble; with
    /// `fifthBits`, a little-endian u32 qh before qs holds bit 4 of element j at bit j.
    static func pack(_ q: [Int], _ out: inout [UInt8], _ at: Int, fifthBits: Bool) {
        var qs = at
        if fifthBits {
            var qh: UInt32 = 0
            for j in 0..<32 { qh |= UInt32((q[j] >> 4) & 1) << UInt32(j) }
            put32(&out, at, qh)
            qs = at + 4
        }
        for j in 0..<16 { out[qs + j] = UInt8(q[j] & 0x0F) | UInt8((q[j + 16] & 0x0F) << 4) }
    }
}
