/// One softmax row's pieces in two passes, for losses over a vocabulary (the policy loss):
/// kept in Tensors so that the SIMD exponential inlines into the loop.
public enum ExponentiateRow {
    public struct Result {
        /// max_v x_v
        public var max: Float
        /// S = sum_v e^(x_v - max): the row now holds the terms.
        public var sum: Float
        /// sum_v e^(x_v - max) (x_v - max), for the entropy log S - weighted / S.
        public var weighted: Float
    }

    /// Replaces x `[count]` (count >= 1) by e^(x - max x).
    public static func exponentiate(_ x: UnsafeMutablePointer<Float>, count: Int) -> Result {
        let m = rowMax(x, count)
        var sum8 = SIMD8<Float>(), weighted8 = SIMD8<Float>()
        let raw = UnsafeMutableRawPointer(x)
        let shift = SIMD8<Float>(repeating: m)
        var v = 0
        while v + 8 <= count {
            let d = raw.loadUnaligned(fromByteOffset: v * 4, as: SIMD8<Float>.self) - shift
            let e = VectorMath.expNonPositive(d)
            sum8 += e
            // e is exactly 0 where d is -inf (or below -87.3); keep 0 * -inf out of the sum.
            weighted8 += e * d.replacing(with: 0, where: e .== 0)
            raw.storeBytes(of: e, toByteOffset: v * 4, as: SIMD8<Float>.self)
            v += 8
        }
        var sum = sum8.sum(), weighted = weighted8.sum()
        if v < count {
            var d = SIMD8<Float>(repeating: -.infinity)
            for j in 0..<(count - v) { d[j] = x[v + j] - m }
            let e = VectorMath.expNonPositive(d)
            sum += e.sum()
            weighted += (e * d.replacing(with: 0, where: e .== 0)).sum()
            for j in 0..<(count - v) { x[v + j] = e[j] }
        }
        return Result(max: m, sum: sum, weighted: weighted)
    }

    /// max_i x[i] (n >= 1), eight lanes with a compare-and-select (the generic `pointwiseMax`
    /// is not inlined).
    @inline(__always)
    static func rowMax(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var m = SIMD8<Float>(repeating: -.infinity)
        let raw = UnsafeRawPointer(x)
        var i = 0
        while i + 8 <= n {
            let y = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            m = m.replacing(with: y, where: y .> m)
            i += 8
        }
        var result = m.max()
        while i < n {
            if x[i] > result { result = x[i] }
            i += 1
        }
        return result
    }
}
