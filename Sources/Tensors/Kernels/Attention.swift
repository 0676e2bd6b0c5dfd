import Foundation

/// Masked multi-head self-attention with grouped-query heads, over one packed sequence.
///
/// q `[tokens, qHeads, headDim]`, k and v `[tokens, kvHeads, headDim]`, out like q.
/// Query head h reads key/value head h / (qHeads / kvHeads). Visibility comes from an
/// `AttentionMask` (causal or tree). The forward keeps lse `[tokens, qHeads]` (log-sum-exp of
/// the scaled scores) so the backward recomputes the probabilities instead of storing them.
public enum Attention {
    public struct Shape: Equatable, Sendable {
        public var tokens: Int, qHeads: Int, kvHeads: Int, headDim: Int
        public init(tokens: Int, qHeads: Int, kvHeads: Int, headDim: Int) {
            self.tokens = tokens; self.qHeads = qHeads; self.kvHeads = kvHeads; self.headDim = headDim
        }
        var group: Int { qHeads / kvHeads }
        var qStride: Int { qHeads * headDim }
        var kvStride: Int { kvHeads * headDim }
    }

    /// Per query head h (kv head g): S = scale Q_h K_g^T `[tokens, tokens]` by one GEMM, the mask
    /// and softmax row by row, then O_h = P V_g by a second GEMM. The GEMMs also compute the
    /// masked-out half of a causal S (twice the flops of a triangular loop), which the BLAS
    /// speed pays for many times over; rows are processed in parallel, GEMMs use BLAS threads.
    public static func forward(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        out: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>,
        shape s: Shape, mask: AttentionMask, scale: Float
    ) {
        let t = s.tokens
        guard t > 0 else { return }
        let probs = UnsafeMutablePointer<Float>.allocate(capacity: t * t)
        defer { probs.deallocate() }
        mask.parents.withUnsafeBufferPointer { parents in
            for h in 0..<s.qHeads {
                let g = h / s.group
                Gemm.strided(transposeA: false, transposeB: true, m: t, n: t, k: s.headDim, alpha: scale,
                             a: q + h * s.headDim, lda: s.qStride, b: k + g * s.headDim, ldb: s.kvStride,
                             c: probs, ldc: t)
                Compute.parallelFor(t, minChunk: max(1, 4096 / t)) { rows in
                    let keys = UnsafeMutablePointer<Int>.allocate(capacity: mask.maxDepth)
                    let values = UnsafeMutablePointer<Float>.allocate(capacity: mask.maxDepth)
                    defer { keys.deallocate(); values.deallocate() }
                    for i in rows {
                        let n = chain(from: i, parents: parents, into: keys)
                        lse[i * s.qHeads + h] = maskedSoftmaxRow(probs + i * t, count: t, keys: keys, n: n, values: values)
                    }
                }
                Gemm.strided(transposeA: false, transposeB: false, m: t, n: s.headDim, k: t,
                             a: probs, lda: t, b: v + g * s.headDim, ldb: s.kvStride,
                             c: out + h * s.headDim, ldc: s.qStride)
            }
        }
    }

    /// Replaces a row of scores by the softmax over its visible `keys` (zero elsewhere) and
    /// returns the row's log-sum-exp. `values` is scratch of at least `n` floats.
    @inline(__always)
    static func maskedSoftmaxRow(
        _ row: UnsafeMutablePointer<Float>, count: Int, keys: UnsafeMutablePointer<Int>, n: Int,
        values: UnsafeMutablePointer<Float>
    ) -> Float {
        var m = -Float.infinity
        for j in 0..<n { m = Swift.max(m, row[keys[j]]) }
        var sum: Float = 0
        for j in 0..<n {
            values[j] = exp(row[keys[j]] - m)
            sum += values[j]
        }
        scatterRow(row, count: count, keys: keys, n: n, values: values, scale: 1 / sum)
        return m + log(sum)
    }

    /// row = 0 except row[keys[j]] = scale * values[j].
    @inline(__always)
    static func scatterRow(
        _ row: UnsafeMutablePointer<Float>, count: Int, keys: UnsafeMutablePointer<Int>, n: Int,
        values: UnsafeMutablePointer<Float>, scale: Float
    ) {
        row.update(repeating: 0, count: count)
        for j in 0..<n { row[keys[j]] = values[j] * scale }
    }

    /// Accumulates (`+=`) dq, dk, dv from dOut, per query head h (kv head g), all by GEMM:
    /// P is recomputed from S and lse; dV_g += P^T dO_h; dP = dO_h V_g^T;
    /// dS = P * (dP - D) with D_i = dO_i . O_i; dQ_h += scale dS K_g; dK_g += scale dS^T Q_h.
    public static func backward(
        dOut: UnsafePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        out: UnsafePointer<Float>, lse: UnsafePointer<Float>,
        dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
        shape s: Shape, mask: AttentionMask, scale: Float
    ) {
        let t = s.tokens
        guard t > 0 else { return }
        let probs = UnsafeMutablePointer<Float>.allocate(capacity: t * t)
        let dProbs = UnsafeMutablePointer<Float>.allocate(capacity: t * t)
        defer { probs.deallocate(); dProbs.deallocate() }
        mask.parents.withUnsafeBufferPointer { parents in
            for h in 0..<s.qHeads {
                let g = h / s.group
                let qh = q + h * s.headDim, kg = k + g * s.headDim, vg = v + g * s.headDim
                let doh = dOut + h * s.headDim
                Gemm.strided(transposeA: false, transposeB: true, m: t, n: t, k: s.headDim, alpha: scale,
                             a: qh, lda: s.qStride, b: kg, ldb: s.kvStride, c: probs, ldc: t)
                Compute.parallelFor(t, minChunk: max(1, 4096 / t)) { rows in
                    let keys = UnsafeMutablePointer<Int>.allocate(capacity: mask.maxDepth)
                    let values = UnsafeMutablePointer<Float>.allocate(capacity: mask.maxDepth)
                    defer { keys.deallocate(); values.deallocate() }
                    for i in rows {
                        let row = probs + i * t
                        let n = chain(from: i, parents: parents, into: keys)
                        let l = lse[i * s.qHeads + h]
                        for j in 0..<n { values[j] = exp(row[keys[j]] - l) }
                        scatterRow(row, count: t, keys: keys, n: n, values: values, scale: 1)
                    }
                }
                Gemm.strided(transposeA: true, transposeB: false, m: t, n: s.headDim, k: t,
                             a: probs, lda: t, b: doh, ldb: s.qStride, beta: 1, c: dv + g * s.headDim, ldc: s.kvStride)
                Gemm.strided(transposeA: false, transposeB: true, m: t, n: t, k: s.headDim,
                             a: doh, lda: s.qStride, b: vg, ldb: s.kvStride, c: dProbs, ldc: t)
                Compute.parallelFor(t, minChunk: max(1, 4096 / t)) { rows in
                    for i in rows {
                        let d = VectorMath.dot(doh + i * s.qStride, out + h * s.headDim + i * s.qStride, s.headDim)
                        let p = probs + i * t, dp = dProbs + i * t
                        for j in 0..<t { dp[j] = p[j] * (dp[j] - d) }
                    }
                }
                Gemm.strided(transposeA: false, transposeB: false, m: t, n: s.headDim, k: t, alpha: scale,
                             a: dProbs, lda: t, b: kg, ldb: s.kvStride, beta: 1, c: dq + h * s.headDim, ldc: s.qStride)
                Gemm.strided(transposeA: true, transposeB: false, m: t, n: s.headDim, k: t, alpha: scale,
                             a: dProbs, lda: t, b: qh, ldb: s.qStride, beta: 1, c: dk + g * s.headDim, ldc: s.kvStride)
            }
        }
    }

    /// Writes token i's visible keys (i, its predecessor, ...) and returns how many.
    @inline(__always)
    static func chain(from i: Int, parents: UnsafeBufferPointer<Int32>, into keys: UnsafeMutablePointer<Int>) -> Int {
        var n = 0, j = i
        while j >= 0 {
            keys[n] = j
            n += 1
            j = Int(parents[j])
        }
        return n
    }
}

extension Attention {
    static func check(_ q: Tensor, _ k: Tensor, _ v: Tensor, _ mask: AttentionMask, op: String) throws -> Shape {
        try Check.rank(q, 3, "q [tokens, qHeads, headDim]", op: op)
        try Check.rank(k, 3, "k [tokens, kvHeads, headDim]", op: op)
        try Check.sameShape(k, v, ("k", "v"), op: op)
        let s = Shape(tokens: q.shape[0], qHeads: q.shape[1], kvHeads: k.shape[1], headDim: q.shape[2])
        try Check.that(k.shape[0] == s.tokens && k.shape[2] == s.headDim, op: op,
                       "q \(q.shape) and k \(k.shape) must agree on tokens and head dimension")
        try Check.that(s.kvHeads > 0 && s.qHeads % s.kvHeads == 0, op: op,
                       "query heads (\(s.qHeads)) must be a multiple of key/value heads (\(s.kvHeads)); q \(q.shape), k \(k.shape)")
        try Check.that(mask.count == s.tokens, op: op,
                       "the mask covers \(mask.count) tokens, q \(q.shape) has \(s.tokens)")
        return s
    }

    /// The default scale 1/sqrt(headDim).
    public static func defaultScale(headDim: Int) -> Float { 1 / Float(headDim).squareRoot() }

    /// -> (out like q, lse `[tokens, qHeads]`)
    public static func forward(q: Tensor, k: Tensor, v: Tensor, mask: AttentionMask, scale: Float? = nil) throws -> (out: Tensor, lse: Tensor) {
        let s = try check(q, k, v, mask, op: "attention")
        var out = Tensor(zeros: q.shape), lse = Tensor(zeros: [s.tokens, s.qHeads])
        q.withPointer { pq in k.withPointer { pk in v.withPointer { pv in
            out.withMutablePointer { po in lse.withMutablePointer { pl in
                forward(q: pq, k: pk, v: pv, out: po, lse: pl, shape: s, mask: mask,
                        scale: scale ?? defaultScale(headDim: s.headDim))
            } }
        } } }
        return (out, lse)
    }

    public static func backward(
        _ dOut: Tensor, q: Tensor, k: Tensor, v: Tensor, out: Tensor, lse: Tensor, mask: AttentionMask, scale: Float? = nil
    ) throws -> (dq: Tensor, dk: Tensor, dv: Tensor) {
        let s = try check(q, k, v, mask, op: "attentionBackward")
        try Check.sameShape(dOut, q, ("dOut", "q"), op: "attentionBackward")
        try Check.sameShape(out, q, ("out", "q"), op: "attentionBackward")
        try Check.that(lse.count == s.tokens * s.qHeads, op: "attentionBackward",
                       "expected lse [\(s.tokens), \(s.qHeads)], found \(lse.shape)")
        var dq = Tensor(zeros: q.shape), dk = Tensor(zeros: k.shape), dv = Tensor(zeros: v.shape)
        dOut.withPointer { pdo in q.withPointer { pq in k.withPointer { pk in v.withPointer { pv in
            out.withPointer { po in lse.withPointer { pl in
                dq.withMutablePointer { pdq in dk.withMutablePointer { pdk in dv.withMutablePointer { pdv in
                    backward(dOut: pdo, q: pq, k: pk, v: pv, out: po, lse: pl, dq: pdq, dk: pdk, dv: pdv,
                             shape: s, mask: mask, scale: scale ?? defaultScale(headDim: s.headDim))
                } } }
            } }
        } } } }
        return (dq, dk, dv)
    }
}
