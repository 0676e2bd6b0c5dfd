// IEEE binary16 and bfloat16 <-> Float32 conversion on bit patterns.
// Kept local to ModelFiles for now; the lead may later route these through Tensors.

enum HalfPrecision {
    /// binary16 bits -> Float (exact: every half is representable as a float).
    /// Layout: 1 sign, 5 exponent (bias 15), 10 mantissa bits.
    static func float(fromFloat16Bits h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h >> 10) & 0x1F
        var mantissa = UInt32(h & 0x03FF)
        if exponent == 0x1F {  // inf / nan: keep the payload
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        if exponent == 0 {
            if mantissa == 0 { return Float(bitPattern: sign) }  // +-0
            // Subnormal half: normalize into a float exponent.
            var e: Int32 = -1
            repeat {
                mantissa <<= 1
                e += 1
            } while mantissa & 0x0400 == 0
            mantissa &= 0x03FF
            let floatExponent = UInt32(Int32(127 - 15) - e)
            return Float(bitPattern: sign | (floatExponent << 23) | (mantissa << 13))
        }
        return Float(bitPattern: sign | ((exponent + 127 - 15) << 23) | (mantissa << 13))
    }

    /// Float -> binary16 bits with round-to-nearest-even; overflow goes to inf, NaN stays NaN.
    static func float16Bits(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = UInt16((bits >> 16) & 0x8000)
        let exponent = Int32((bits >> 23) & 0xFF)
        let mantissa = bits & 0x007F_FFFF
        if exponent == 0xFF {
            return sign | 0x7C00 | (mantissa != 0 ? 0x0200 | UInt16(mantissa >> 13) : 0)
        }
        let halfExponent = exponent - 127 + 15
        if halfExponent >= 0x1F { return sign | 0x7C00 }  // overflow -> inf
        if halfExponent <= 0 {
            // Subnormal or zero in half: shift the implicit-1 mantissa right, round to even.
            if halfExponent < -10 { return sign }
            let full = mantissa | 0x0080_0000
            let shift = UInt32(14 - halfExponent)
            var result = full >> shift
            let remainder = full & ((1 << shift) - 1)
            let halfway = UInt32(1) << (shift - 1)
            if remainder > halfway || (remainder == halfway && result & 1 == 1) { result += 1 }
            return sign | UInt16(result)
        }
        var result = UInt32(halfExponent) << 10 | (mantissa >> 13)
        let remainder = mantissa & 0x1FFF
        if remainder > 0x1000 || (remainder == 0x1000 && result & 1 == 1) {
            result += 1  // may carry into the exponent, which correctly yields inf at the top
        }
        return sign | UInt16(result)
    }

    /// bfloat16 bits are the top half of a float: exact.
    static func float(fromBFloat16Bits b: UInt16) -> Float {
        Float(bitPattern: UInt32(b) << 16)
    }

    /// Float -> bfloat16 bits, round-to-nearest-even (as torch does); NaN stays a quiet NaN.
    static func bfloat16Bits(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(bits >> 16) | 0x0040 }
        let rounding = UInt32(0x7FFF) + ((bits >> 16) & 1)
        return UInt16((bits &+ rounding) >> 16)
    }
}
