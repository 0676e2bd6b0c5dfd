/// IEEE float16 and bfloat16 <-> Float32, bit-exact, rounding to nearest even.
public enum HalfPrecision {
    @inline(__always)
    public static func float(fromFloat16Bits bits: UInt16) -> Float {
        Float(Float16(bitPattern: bits))
    }

    /// Round to nearest even; overflow gives infinity; NaN stays NaN.
    @inline(__always)
    public static func float16Bits(from value: Float) -> UInt16 {
        Float16(value).bitPattern
    }

    @inline(__always)
    public static func float(fromBFloat16Bits bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// bfloat16 keeps float32's exponent and the top 7 mantissa bits: round the dropped 16 bits
    /// to nearest even. A NaN keeps a set mantissa bit so it cannot round into infinity.
    @inline(__always)
    public static func bfloat16Bits(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        let roundingBias = UInt32(0x7FFF) + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ roundingBias) >> 16)
    }

    public static func floats(fromFloat16Bits bits: [UInt16]) -> [Float] { bits.map(float(fromFloat16Bits:)) }
    public static func float16Bits(from values: [Float]) -> [UInt16] { values.map(float16Bits(from:)) }
    public static func floats(fromBFloat16Bits bits: [UInt16]) -> [Float] { bits.map(float(fromBFloat16Bits:)) }
    public static func bfloat16Bits(from values: [Float]) -> [UInt16] { values.map(bfloat16Bits(from:)) }
}
