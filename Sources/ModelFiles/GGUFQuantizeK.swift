import Tensors

/// Float32 to the K-quant super-blocks (256 values) by llama.cpp's reference algorithms
/// (`quantize_row_q4_K_ref`, `quantize_row_q5_K_ref`, `quantize_row_q6_K_ref` in ggml-quants.c).
/// Each step is one float32 operation in the reference's order (no fused multiply-add, sums left
/// to right) so the bytes equal an independent implementation of the same algorithm
/// (tools/kquants_reference.py). Layouts as in `GGUFDequantize.qK` / `q6_K`:
///   Q4_K 144 bytes: f16 d | f16 dmin | scales[12] | qs[128]
///   Q5_K 176 bytes: f16 d | f16 dmin | scales[12] | qh[32] | qs[128]
///   Q6_K 210 bytes: ql[128] | qh[64] | i8 scales[16] | f16 d
enum GGUFQuantizeK {
    /// Round to nearest, ties to even, as the reference does it: add 1.5 * 2^23 in float32 and
    /// read the low mantissa bits (the reference asserts |value| <= 2^22 - 1).
    @inline(__always) static func nearestInt(_ value: Float) -> Int {
        let shifted = value + 12_582_912
        return Int(Int32(bitPattern: shifted.bitPattern) & 0x007F_FFFF) - 0x0040_0000
    }

    @inline(__always) static func halfRoundTrip(_ bits: UInt16) -> Float { HalfPrecision.float(fromFloat16Bits: bits) }

    /// Q4_K (`fifthBit` false, levels 0...15) or Q5_K (true, 0...31) for 256 values at `x`,
    /// written at `out[at...]`.
    static func qK(_ x: UnsafePointer<Float>, _ out: inout [UInt8], _ at: Int, fifthBit: Bool) {
        let nmax = fifthBit ? 31 : 15
        let rmin: Float = fifthBit ? -0.5 : -1
        let nstep = fifthBit ? 15 : 20
        var levels = [Int](repeating: 0, count: 256)
        var scales = [Float](repeating: 0, count: 8), mins = [Float](repeating: 0, count: 8)
        var weights = [Float](repeating: 0, count: 32)
        for j in 0..<8 {
            let sub = x + 32 * j
            // Weights av_x + |x|, av_x the sub-block's root mean square.
            var sumX2: Float = 0
            for l in 0..<32 { sumX2 += sub[l] * sub[l] }
            let avX = (sumX2 / 32).squareRoot()
            for l in 0..<32 { weights[l] = avX + abs(sub[l]) }
            (scales[j], mins[j]) = weights.withUnsafeBufferPointer { w in
                levels.withUnsafeMutableBufferPointer { L in
                    makeQKX2(sub, w.baseAddress!, L.baseAddress! + 32 * j, nmax: nmax, rmin: rmin, rdelta: 0.1, nstep: nstep)
                }
            }
        }
        var maxScale: Float = 0, maxMin: Float = 0
        for j in 0..<8 {
            if scales[j] > maxScale { maxScale = scales[j] }
            if mins[j] > maxMin { maxMin = mins[j] }
        }
        let invScale: Float = maxScale > 0 ? 63 / maxScale : 0
        let invMin: Float = maxMin > 0 ? 63 / maxMin : 0
        // Six-bit scale and minimum per sub-block; the reference stores the rounded value in a
        // uint8 (wrapping a negative one) before clipping to 63.
        var packed = [UInt8](repeating: 0, count: 12)
        for j in 0..<8 {
            let ls = min(63, UInt8(truncatingIfNeeded: nearestInt(invScale * scales[j])))
            let lm = min(63, UInt8(truncatingIfNeeded: nearestInt(invMin * mins[j])))
            if j < 4 {
                packed[j] = ls
                packed[j + 4] = lm
            } else {
                packed[j + 4] = (ls & 0x0F) | ((lm & 0x0F) << 4)
                packed[j - 4] |= (ls >> 4) << 6
                packed[j] |= (lm >> 4) << 6
            }
        }
        let dBits = HalfPrecision.float16Bits(from: maxScale / 63)
        let dminBits = HalfPrecision.float16Bits(from: maxMin / 63)
        // Levels again against the scales as stored (f16 times 6-bit); a zero scale keeps the
        // sub-block's levels from the search.
        packed.withUnsafeBytes { raw in
            for j in 0..<8 {
                let (sc, m) = GGUFDequantize.scaleMin(raw, at: 0, j)
                let d = halfRoundTrip(dBits) * Float(sc)
                if d == 0 { continue }
                let dm = halfRoundTrip(dminBits) * Float(m)
                for i in 0..<32 { levels[32 * j + i] = max(0, min(nmax, nearestInt((x[32 * j + i] + dm) / d))) }
            }
        }
        GGUFQuantize.put16(&out, at, dBits)
        GGUFQuantize.put16(&out, at + 2, dminBits)
        for k in 0..<12 { out[at + 4 + k] = packed[k] }
        // Chunk c (64 values): qs[32c + l] holds value 64c + l low and 64c + 32 + l high; Q5_K's
        // fifth bits go to qh[l], bit 2c and 2c + 1.
        let qs = at + (fifthBit ? 48 : 16)
        for c in 0..<4 {
            for l in 0..<32 {
                let low = levels[64 * c + l], high = levels[64 * c + 32 + l]
                out[qs + 32 * c + l] = UInt8(low & 0x0F) | UInt8((high & 0x0F) << 4)
                if fifthBit { out[at + 16 + l] |= UInt8(((low >> 4) << (2 * c)) | ((high >> 4) << (2 * c + 1))) }
            }
        }
    }

    /// make_qkx2_quants: levels 0...nmax for n = 32 values with x ~ scale * L + min (min <= 0),
    /// trying inverse scales (rmin + rdelta * k + nmax) / (max - min), k = 0...nstep, each fitted
    /// by weighted least squares and kept when its weighted squared error is lower. Returns
    /// (scale, -min).
    static func makeQKX2(_ x: UnsafePointer<Float>, _ weights: UnsafePointer<Float>, _ L: UnsafeMutablePointer<Int>,
                         nmax: Int, rmin: Float, rdelta: Float, nstep: Int) -> (Float, Float) {
        let n = 32
        var lo = x[0], hi = x[0]
        var sumW = weights[0]
        var sumX = sumW * x[0]
        for i in 1..<n {
            if x[i] < lo { lo = x[i] }
            if x[i] > hi { hi = x[i] }
            sumW += weights[i]
            sumX += weights[i] * x[i]
        }
        if lo > 0 { lo = 0 }
        if hi == lo {
            for i in 0..<n { L[i] = 0 }
            return (0, -lo)
        }
        var iscale = Float(nmax) / (hi - lo)
        var scale = 1 / iscale
        var bestError: Float = 0
        for i in 0..<n {
            L[i] = max(0, min(nmax, nearestInt(iscale * (x[i] - lo))))
            let diff = scale * Float(L[i]) + lo - x[i]
            bestError += weights[i] * (diff * diff)
        }
        var trial = [Int](repeating: 0, count: n)
        for step in 0...nstep {
            iscale = (rmin + rdelta * Float(step) + Float(nmax)) / (hi - lo)
            var sumL: Float = 0, sumL2: Float = 0, sumXL: Float = 0
            for i in 0..<n {
                let l = max(0, min(nmax, nearestInt(iscale * (x[i] - lo))))
                trial[i] = l
                let w = weights[i], fl = Float(l)
                sumL += w * fl
                sumL2 += w * fl * fl
                sumXL += w * fl * x[i]
            }
            let det = sumW * sumL2 - sumL * sumL
            guard det > 0 else { continue }
            var thisScale = (sumW * sumXL - sumX * sumL) / det
            var thisMin = (sumL2 * sumX - sumL * sumXL) / det
            if thisMin > 0 {
                thisMin = 0
                thisScale = sumXL / sumL2
            }
            var error: Float = 0
            for i in 0..<n {
                let diff = thisScale * Float(trial[i]) + thisMin - x[i]
                error += weights[i] * (diff * diff)
            }
            if error < bestError {
                for i in 0..<n { L[i] = trial[i] }
                bestError = error
                scale = thisScale
                lo = thisMin
            }
        }
        return (scale, -lo)
    }

    /// Q6_K for 256 values at `x`: sixteen sub-blocks of 16 with signed levels -32...31, their
    /// scales quantised to int8 against one f16 d.
    static func q6_K(_ x: UnsafePointer<Float>, _ out: inout [UInt8], _ at: Int) {
        var levels = [Int](repeating: 0, count: 256)
        var scales = [Float](repeating: 0, count: 16)
        var maxScale: Float = 0, maxAbsScale: Float = 0
        levels.withUnsafeMutableBufferPointer { L in
            for s in 0..<16 {
                scales[s] = makeQX(x + 16 * s, L.baseAddress! + 16 * s, nmax: 32)
                if abs(scales[s]) > maxAbsScale {
                    maxAbsScale = abs(scales[s])
                    maxScale = scales[s]
                }
            }
        }
        // All zero (the reference's GROUP_MAX_EPS): every byte 0, d = +0.
        if maxAbsScale < 1e-15 { return }
        let iscale = -128 / maxScale
        let dBits = HalfPrecision.float16Bits(from: 1 / iscale)
        var qScales = [Int](repeating: 0, count: 16)
        for s in 0..<16 { qScales[s] = min(127, nearestInt(iscale * scales[s])) }
        for s in 0..<16 {
            let d = halfRoundTrip(dBits) * Float(qScales[s])
            if d == 0 { continue }
            for i in 0..<16 { levels[16 * s + i] = max(-32, min(31, nearestInt(x[16 * s + i] / d))) + 32 }
        }
        // Half h (128 values): ql[64h + l] holds values l (low) and l + 64 (high nibble),
        // ql[64h + 32 + l] values l + 32 and l + 96; qh[32h + l] their top two bits at 0, 2, 4, 6.
        for h in 0..<2 {
            for l in 0..<32 {
                let q0 = levels[128 * h + l], q1 = levels[128 * h + l + 32]
                let q2 = levels[128 * h + l + 64], q3 = levels[128 * h + l + 96]
                out[at + 64 * h + l] = UInt8((q0 & 0x0F) | ((q2 & 0x0F) << 4))
                out[at + 64 * h + l + 32] = UInt8((q1 & 0x0F) | ((q3 & 0x0F) << 4))
                out[at + 128 + 32 * h + l] = UInt8((q0 >> 4) | ((q1 >> 4) << 2) | ((q2 >> 4) << 4) | ((q3 >> 4) << 6))
            }
        }
        for s in 0..<16 { out[at + 192 + s] = UInt8(truncatingIfNeeded: qScales[s]) }
        GGUFQuantize.put16(&out, at + 208, dBits)
    }

    /// make_qx_quants with rmse_type 1 (weights x^2): signed levels -nmax...nmax-1 for 16 values,
    /// inverse scales -(nmax + 0.1 k) / max for k = -9...9 (max: the value of largest magnitude),
    /// the one with the best weighted fit kept. Writes L + nmax; returns the scale.
    static func makeQX(_ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<Int>, nmax: Int) -> Float {
        let n = 16
        var largest: Float = 0, amax: Float = 0
        for i in 0..<n where abs(x[i]) > amax {
            amax = abs(x[i])
            largest = x[i]
        }
        if amax < 1e-15 {
            for i in 0..<n { L[i] = 0 }
            return 0
        }
        // (levels, Σ w x l, Σ w l²) for one inverse scale.
        func fit(_ iscale: Float, into levels: UnsafeMutablePointer<Int>?) -> (Float, Float) {
            var sumLX: Float = 0, sumL2: Float = 0
            for i in 0..<n {
                let l = max(-nmax, min(nmax - 1, nearestInt(iscale * x[i])))
                levels?[i] = l + nmax
                let w = x[i] * x[i], fl = Float(l)
                sumLX += w * x[i] * fl
                sumL2 += w * fl * fl
            }
            return (sumLX, sumL2)
        }
        var (sumLX, sumL2) = fit(Float(-nmax) / largest, into: L)
        var scale: Float = sumL2 != 0 ? sumLX / sumL2 : 0
        var best = scale * sumLX
        for step in -9...9 where step != 0 {
            let iscale = -(Float(nmax) + 0.1 * Float(step)) / largest
            (sumLX, sumL2) = fit(iscale, into: nil)
            if sumL2 > 0 && sumLX * sumLX > best * sumL2 {
                _ = fit(iscale, into: L)
                scale = sumLX / sumL2
                best = scale * sumLX
            }
        }
        return scale
    }
}
