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

    public static func forward(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        out: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>,
        shape s: Shape, mask: AttentionMask, scale: Float
    ) {
        let maxSpan = mask.maxDepth
        mask.parents.withUnsafeBufferPointer { parents in
            // Later tokens of a causal mask cost more: many small chunks keep both threads busy.
            let chunks = min(s.tokens, Compute.threads * 8)
            Compute.parallelFor(chunks) { chunkRange in
                let scores = UnsafeMutablePointer<Float>.allocate(capacity: max(1, maxSpan))
                let keys = UnsafeMutablePointer<Int>.allocate(capacity: max(1, maxSpan))
                defer { scores.deallocate(); keys.deallocate() }
                for chunk in chunkRange {
                    for i in Compute.chunkRange(chunk, of: chunks, count: s.tokens) {
                        let n = chain(from: i, parents: parents, into: keys)
                        for h in 0..<s.qHeads {
                            let qi = q + i * s.qStride + h * s.headDim
                            let kvOffset = (h / s.group) * s.headDim
                            var m = -Float.infinity
                            for j in 0..<n {
                                let sc = scale * VectorMath.dot(qi, k + keys[j] * s.kvStride + kvOffset, s.headDim)
                                scores[j] = sc
                                m = Swift.max(m, sc)
                            }
                            var sum: Float = 0
                            for j in 0..<n {
                                scores[j] = exp(scores[j] - m)
                                sum += scores[j]
                            }
                            let oi = out + i * s.qStride + h * s.headDim
                            oi.initialize(repeating: 0, count: s.headDim)
                            let inv = 1 / sum
                            for j in 0..<n {
                                VectorMath.axpy(scores[j] * inv, v + keys[j] * s.kvStride + kvOffset, oi, s.headDim)
                            }
                            lse[i * s.qHeads + h] = m + log(sum)
                        }
                    }
                }
            }
        }
    }

    /// Accumulates (`+=`) dq, dk, dv from dOut. With p_j = exp(scale q.k_j - lse) and
    /// D = dOut . out: dv_j += p_j dOut; ds_j = p_j (dOut . v_j - D);
    /// dq += scale sum_j ds_j k_j; dk_j += scale ds_j q.
    public static func backward(
        dOut: UnsafePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        out: UnsafePointer<Float>, lse: UnsafePointer<Float>,
        dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
        shape s: Shape, mask: AttentionMask, scale: Float
    ) {
        let maxSpan = mask.maxDepth
        let workers = min(Compute.threads, max(1, s.tokens))
        // dk and dv rows are written by every query that sees them: each worker sums into its
        // own copy and the copies are added at the end.
        let kvCount = s.tokens * s.kvStride
        let dks = PartialSums(workers: workers, length: kvCount), dvs = PartialSums(workers: workers, length: kvCount)
        mask.parents.withUnsafeBufferPointer { parents in
            Compute.parallelWorkers(workers) { w in
                let dkw = dks[w], dvw = dvs[w]
                let probs = UnsafeMutablePointer<Float>.allocate(capacity: max(1, maxSpan))
                let keys = UnsafeMutablePointer<Int>.allocate(capacity: max(1, maxSpan))
                defer { probs.deallocate(); keys.deallocate() }
                // Strided rows balance the causal triangle between workers.
                for i in stride(from: w, to: s.tokens, by: workers) {
                    let n = chain(from: i, parents: parents, into: keys)
                    for h in 0..<s.qHeads {
                        let row = i * s.qStride + h * s.headDim
                        let qi = q + row, doi = dOut + row, dqi = dq + row
                        let kvOffset = (h / s.group) * s.headDim
                        let l = lse[i * s.qHeads + h]
                        let d = VectorMath.dot(doi, out + row, s.headDim)
                        for j in 0..<n {
                            let kj = k + keys[j] * s.kvStride + kvOffset
                            probs[j] = exp(scale * VectorMath.dot(qi, kj, s.headDim) - l)
                        }
                        for j in 0..<n {
                            let at = keys[j] * s.kvStride + kvOffset
                            let p = probs[j]
                            VectorMath.axpy(p, doi, dvw + at, s.headDim)
                            let ds = p * (VectorMath.dot(doi, v + at, s.headDim) - d)
                            VectorMath.axpy(scale * ds, k + at, dqi, s.headDim)
                            VectorMath.axpy(scale * ds, qi, dkw + at, s.headDim)
                        }
                    }
                }
            }
        }
        dks.reduce(into: dk)
        dvs.reduce(into: dv)
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
