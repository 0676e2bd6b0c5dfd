import Tensors

/// ggml block formats to Float32, following the block layouts of the GGUF / ggml spec. Each
/// value is computed with the same float32 operations, in the same order, as the reference
/// dequantisation (`gguf` package, `ggml-quants.c`): scales are f16 widened exactly, products
/// are rounded separately (`d * q + m` is two roundings, never a fused multiply-add), so the
/// results are bit-identical. Elements of one block are written in order; blocks follow.
public enum GGUFDequantize {
    /// `bytes` holds exactly `type.byteCount(elements: count)` bytes; `out` has room for `count`.
    public static func floats(_ bytes: UnsafeRawBufferPointer, type: GGMLType, count: Int, into out: UnsafeMutablePointer<Float>) throws {
        guard let expected = type.byteCount(elements: count), expected == bytes.count else {
            throw ModelFileError(.outOfBounds, file: "GGUF data", subject: "\(type) block",
                                 "expected \(count) elements in whole blocks of \(type.blockSize) (\(type.byteCount(elements: count).map(String.init) ?? "no whole number of") bytes), found \(bytes.count) bytes")
        }
        let blocks = count / type.blockSize
        switch type {
        case .f32:
            for i in 0..<count { out[i] = Float(bitPattern: bytes.u32(i * 4)) }
        case .f16:
            for i in 0..<count { out[i] = bytes.half(i * 2) }
        case .bf16:
            for i in 0..<count { out[i] = Float(bitPattern: UInt32(bytes.u16(i * 2)) << 16) }
        case .q8_0:
            for b in 0..<blocks { q8_0(bytes, at: b * 34, out + b * 32) }
        case .q4_0:
            for b in 0..<blocks { q4(bytes, at: b * 18, minimum: false, out + b * 32) }
        case .q4_1:
            for b in 0..<blocks { q4(bytes, at: b * 20, minimum: true, out + b * 32) }
        case .q5_0:
            for b in 0..<blocks { q5(bytes, at: b * 22, minimum: false, out + b * 32) }
        case .q5_1:
            for b in 0..<blocks { q5(bytes, at: b * 24, minimum: true, out + b * 32) }
        case .q4_K:
            for b in 0..<blocks { qK(bytes, at: b * 144, fifthBit: false, out + b * 256) }
        case .q5_K:
            for b in 0..<blocks { qK(bytes, at: b * 176, fifthBit: true, out + b * 256) }
        case .q6_K:
            for b in 0..<blocks { q6_K(bytes, at: b * 210, out + b * 256) }
        default:
            throw ModelFileError(.unsupported, file: "GGUF data", subject: "type",
                                 "expected one of \(GGMLType.dequantizable.map(\.description).joined(separator: ", ")), found \(type)")
        }
    }

    /// Q8_0, 34 bytes: f16 d | i8 q[32]; x = q * d.
    static func q8_0(_ raw: UnsafeRawBufferPointer, at: Int, _ out: UnsafeMutablePointer<Float>) {
        let d = raw.half(at)
        for j in 0..<32 { out[j] = Float(Int8(bitPattern: raw[at + 2 + j])) * d }
    }

    /// Q4_0 (18 bytes: f16 d | qs[16]) and Q4_1 (20 bytes: f16 d | f16 m | qs[16]). Element j < 16
    /// is the low nibble of qs[j], element j + 16 its high nibble. Q4_0: x = (q - 8) * d;
    /// Q4_1: x = q * d + m.
    static func q4(_ raw: UnsafeRawBufferPointer, at: Int, minimum: Bool, _ out: UnsafeMutablePointer<Float>) {
        let d = raw.half(at)
        let m: Float = minimum ? raw.half(at + 2) : 0
        let qs = at + (minimum ? 4 : 2)
        for j in 0..<16 {
            let byte = raw[qs + j]
            let low = Int(byte & 0x0F), high = Int(byte >> 4)
            if minimum {
                out[j] = d * Float(low) + m
                out[j + 16] = d * Float(high) + m
            } else {
                out[j] = d * Float(low - 8)
                out[j + 16] = d * Float(high - 8)
            }
        }
    }

    /// Q5_0 (22 bytes: f16 d | u32 qh | qs[16]) and Q5_1 (24 bytes: f16 d | f16 m | u32 qh | qs[16]).
    /// The 4 low bits as in Q4; bit j of qh is element j's fifth bit. Q5_0: x = (q - 16) * d;
    /// Q5_1: x = q * d + m.
    static func q5(_ raw: UnsafeRawBufferPointer, at: Int, minimum: Bool, _ out: UnsafeMutablePointer<Float>) {
        let d = raw.half(at)
        let m: Float = minimum ? raw.half(at + 2) : 0
        let qhAt = at + (minimum ? 4 : 2)
        let qh = raw.u32(qhAt)
        let qs = qhAt + 4
        for j in 0..<16 {
            let byte = raw[qs + j]
            let low = Int(byte & 0x0F) | Int((qh >> UInt32(j)) & 1) << 4
            let high = Int(byte >> 4) | Int((qh >> UInt32(j + 16)) & 1) << 4
            if minimum {
                out[j] = d * Float(low) + m
                out[j + 16] = d * Float(high) + m
            } else {
                out[j] = d * Float(low - 16)
                out[j + 16] = d * Float(high - 16)
            }
        }
    }

    /// The 6-bit scale and minimum of sub-block i (0..<8) packed in Q4_K/Q5_K's 12 scale bytes:
    /// bytes 0-3 hold scales 0-3 (low 6 bits), 4-7 minimums 0-3; scales/minimums 4-7 take their
    /// low 4 bits from bytes 8-11 and their top 2 bits from the top bits of bytes 0-3 / 4-7.
    static func scaleMin(_ raw: UnsafeRawBufferPointer, at s: Int, _ i: Int) -> (scale: UInt8, min: UInt8) {
        if i < 4 { return (raw[s + i] & 0x3F, raw[s + i + 4] & 0x3F) }
        let scale = (raw[s + i + 4] & 0x0F) | ((raw[s + i - 4] >> 6) << 4)
        let min = (raw[s + i + 4] >> 4) | ((raw[s + i] >> 6) << 4)
        return (scale, min)
    }

    /// Q4_K (144 bytes: f16 d | f16 dmin | scales[12] | qs[128]) and Q5_K (176 bytes: ... |
    /// qh[32] | qs[128]). Eight sub-blocks of 32: sub-block 2c + h takes nibble h of qs[32c + l];
    /// Q5_K adds bit i of qh[l] as sub-block i's fifth bit. x = (d * scale) * q - (dmin * min).
    static func qK(_ raw: UnsafeRawBufferPointer, at: Int, fifthBit: Bool, _ out: UnsafeMutablePointer<Float>) {
        let d = raw.half(at), dmin = raw.half(at + 2)
        let scales = at + 4
        let qh = at + 16
        let qs = at + (fifthBit ? 48 : 16)
        for i in 0..<8 {
            let (sc, mn) = scaleMin(raw, at: scales, i)
            let ds = d * Float(sc), dm = dmin * Float(mn)
            let chunk = qs + (i / 2) * 32
            let shift = UInt8((i % 2) * 4)
            for l in 0..<32 {
                var q = (raw[chunk + l] >> shift) & 0x0F
                if fifthBit { q |= ((raw[qh + l] >> UInt8(i)) & 1) << 4 }
                out[i * 32 + l] = ds * Float(q) - dm
            }
        }
    }

    /// Q6_K (210 bytes: ql[128] | qh[64] | i8 scales[16] | f16 d). Two halves of 128: in half h,
    /// element r takes the nibble r / 64 of ql[64h + r % 64] and the 2-bit field r / 32 of
    /// qh[32h + r % 32] as its top bits; x = (d * scales[e / 16]) * (q - 32).
    static func q6_K(_ raw: UnsafeRawBufferPointer, at: Int, _ out: UnsafeMutablePointer<Float>) {
        let ql = at, qh = at + 128, scales = at + 192
        let d = raw.half(at + 208)
        for e in 0..<256 {
            let h = e / 128, r = e % 128
            let low = (raw[ql + 64 * h + r % 64] >> UInt8(4 * (r / 64))) & 0x0F
            let high = (raw[qh + 32 * h + r % 32] >> UInt8(2 * (r / 32))) & 0x03
            let q = Int(low | (high << 4)) - 32
            let ds = d * Float(Int8(bitPattern: raw[scales + e / 16]))
            out[e] = ds * Float(q)
        }
    }
}

extension UnsafeRawBufferPointer {
    @inline(__always) func u16(_ at: Int) -> UInt16 { UInt16(littleEndian: loadUnaligned(fromByteOffset: at, as: UInt16.self)) }
    @inline(__always) func u32(_ at: Int) -> UInt32 { UInt32(littleEndian: loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
    @inline(__always) func half(_ at: Int) -> Float { HalfPrecision.float(fromFloat16Bits: u16(at)) }
}
