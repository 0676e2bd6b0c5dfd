import Foundation

/// Masked multi-head self-attention with grouped-query heads, over one packed sequence.
///
/// q `[tokens, qHeads, headDim]`, k and v `[tokens, kvHeads, headDim]`, out like q.
/// Query head h reads key/value head h / (qHeads / kvHeads). Visibility comes from an
/// `AttentionMask` (causal or tree). The forward keeps lse `[tokens, qHeads]` (log-sum-exp of
/// the scaled scores) so the backward recomputes the probabilities instead of storing them.
///
/// The work is split the way the mask allows (no result depends on the split):
///   - by the mask's segments (`AttentionMask.segments`): no query sees a key of another
///     segment, so the score matrix is block-diagonal and each segment's block is computed alone
///     (several sequences or trees packed into one sequence cost the sum of their squares);
///   - within a segment, by blocks of `rowBlock` queries: every key a query sees is at or before
///     it, so the block of queries [a, b) needs the keys [segment start, b) only, which skips
///     most of the masked upper triangle (about half the score flops of a long causal run);
///   - in a tree, a block needs only the union of its queries' chains: a block inside one
///     completion of a group of 64 packed after a shared prompt sees the prompt and its own
///     completion, not the 63 others. Those keys (and values) are gathered into scratch, so
///     the score GEMMs are `rows x union` instead of `rows x (b - segment start)`: a packed
///     group or tree costs about tokens x path length instead of tokens^2 / 2;
///   - per query row: a row that sees the block's first columns (a causal run, or a completion
///     right after its prompt in a gathered block) takes a contiguous SIMD softmax; any other
///     tree row gathers its chain of visible keys.
/// Scores live in `rowBlock x widest block` scratch kept between calls (`ScratchPool`).
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

    /// Queries per block: the GEMMs stay large enough for BLAS to run near its peak while the
    /// skipped triangle grows with the number of blocks.
    static let rowBlock = 64

    /// A block of queries [rows) of one segment and the keys its queries see: every token of
    /// [keyStart, rows.upperBound) when `keys` is nil, else `keys` (ascending, a strict subset).
    /// Column c of the block's scores is key keyStart + c, or keys[c].
    struct Block {
        var rows: Range<Int>
        var keyStart: Int
        var keys: [Int32]?
        var width: Int { keys?.count ?? rows.upperBound - keyStart }
    }

    /// The blocks of every segment, in order, each with the union of its queries' chains.
    static func blocks(_ mask: AttentionMask) -> [Block] {
        var out: [Block] = []
        // stamp[j] == block number: key j is in that block's union (no clearing between blocks).
        var stamp = [Int32](repeating: -1, count: mask.count)
        mask.parents.withUnsafeBufferPointer { parents in
            for segment in mask.segments {
                var a = segment.lowerBound
                while a < segment.upperBound {
                    let b = Swift.min(a + rowBlock, segment.upperBound), id = Int32(out.count)
                    var union = 0
                    for i in a..<b {
                        // A chain whose key is stamped was walked already from there on up.
                        var j = i
                        while j >= 0 && stamp[j] != id {
                            stamp[j] = id
                            union += 1
                            j = Int(parents[j])
                        }
                    }
                    var keys: [Int32]?
                    if union < b - segment.lowerBound {
                        var list = [Int32]()
                        list.reserveCapacity(union)
                        for j in segment.lowerBound..<b where stamp[j] == id { list.append(Int32(j)) }
                        keys = list
                    }
                    out.append(Block(rows: a..<b, keyStart: segment.lowerBound, keys: keys))
                    a = b
                }
            }
        }
        return out
    }

    /// Writes each key's column in `block` into `columns` (indexed by token).
    static func setColumns(of block: Block, _ columns: UnsafeMutableBufferPointer<Int32>) {
        if let keys = block.keys {
            for (c, j) in keys.enumerated() { columns[Int(j)] = Int32(c) }
        } else {
            for j in block.keyStart..<block.rows.upperBound { columns[j] = Int32(j - block.keyStart) }
        }
    }

    /// Rows `keys` of `source` (`stride` floats each) into `target`, one after another.
    static func gatherRows(_ source: UnsafePointer<Float>, _ keys: [Int32], stride: Int, into target: UnsafeMutablePointer<Float>) {
        for (c, j) in keys.enumerated() { (target + c * stride).update(from: source + Int(j) * stride, count: stride) }
    }

    /// Adds `source`'s rows one after another into rows `keys` of `target` (`stride` floats each).
    static func scatterAddRows(_ source: UnsafePointer<Float>, _ keys: [Int32], stride: Int, into target: UnsafeMutablePointer<Float>) {
        for (c, j) in keys.enumerated() {
            let t = target + Int(j) * stride, f = source + c * stride
            for x in 0..<stride { t[x] += f[x] }
        }
    }

    /// The widest gathered block (0 when none gathers): its keys and values need scratch.
    static func widestGathered(_ blocks: [Block]) -> Int {
        blocks.lazy.filter { $0.keys != nil }.map(\.width).max() ?? 0
    }

    /// Per block and query head h (kv head g): S = scale Q_h K_g^T `[rows, width]` by one GEMM,
    /// the mask and softmax row by row, then O_h = P V_g by a second GEMM. Rows are processed in
    /// parallel, GEMMs use BLAS threads.
    public static func forward(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        out: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>,
        shape s: Shape, mask: AttentionMask, scale: Float
    ) {
        guard s.tokens > 0 else { return }
        let blocks = blocks(mask)
        let widest = blocks.map(\.width).max() ?? 0, gathered = widestGathered(blocks) * s.kvStride
        var columns = [Int32](repeating: 0, count: s.tokens)
        ScratchPool.shared.with(count: rowBlock * widest + 2 * gathered) { scratch in
            let probs = scratch, keysGathered = scratch + rowBlock * widest, valuesGathered = keysGathered + gathered
            mask.parents.withUnsafeBufferPointer { parents in
                mask.depths.withUnsafeBufferPointer { depths in
                    columns.withUnsafeMutableBufferPointer { columns in
                        for block in blocks {
                            let rows = block.rows.count, w = block.width, k0 = block.keyStart
                            setColumns(of: block, columns)
                            var kb = k + k0 * s.kvStride, vb = v + k0 * s.kvStride
                            if let keys = block.keys {
                                gatherRows(k, keys, stride: s.kvStride, into: keysGathered)
                                gatherRows(v, keys, stride: s.kvStride, into: valuesGathered)
                                kb = UnsafePointer(keysGathered)
                                vb = UnsafePointer(valuesGathered)
                            }
                            let cols = UnsafeBufferPointer(columns)
                            for h in 0..<s.qHeads {
                                let g = h / s.group
                                Gemm.strided(transposeA: false, transposeB: true, m: rows, n: w, k: s.headDim, alpha: scale,
                                             a: q + block.rows.lowerBound * s.qStride + h * s.headDim, lda: s.qStride,
                                             b: kb + g * s.headDim, ldb: s.kvStride, c: probs, ldc: w)
                                Compute.parallelFor(rows, minChunk: max(1, 4096 / w)) { chunk in
                                    for r in chunk {
                                        let i = block.rows.lowerBound + r
                                        lse[i * s.qHeads + h] = softmaxRow(probs + r * w, width: w, query: i, columns: cols,
                                                                           parents: parents, depths: depths)
                                    }
                                }
                                Gemm.strided(transposeA: false, transposeB: false, m: rows, n: s.headDim, k: w,
                                             a: probs, lda: w, b: vb + g * s.headDim, ldb: s.kvStride,
                                             c: out + block.rows.lowerBound * s.qStride + h * s.headDim, ldc: s.qStride)
                            }
                        }
                    }
                }
            }
        }
    }

    /// True when query i's visible keys are the block's first columns 0...columns[i] (a causal
    /// run; in a gathered block also a completion after its prompt): its chain has depth[i]
    /// keys, all at or before i, so they fill the columns up to i's own exactly when there
    /// are depth[i] of those.
    @inline(__always)
    static func seesFirstColumns(_ i: Int, columns: UnsafeBufferPointer<Int32>, depths: UnsafeBufferPointer<Int32>) -> Bool {
        columns[i] == depths[i] - 1
    }

    /// Replaces one row of scores `row[0..<width]` (the block's columns) by query i's softmax
    /// over its visible keys (zero elsewhere) and returns the log-sum-exp.
    @inline(__always)
    static func softmaxRow(
        _ row: UnsafeMutablePointer<Float>, width: Int, query i: Int, columns: UnsafeBufferPointer<Int32>,
        parents: UnsafeBufferPointer<Int32>, depths: UnsafeBufferPointer<Int32>
    ) -> Float {
        let n = Int(depths[i])
        if seesFirstColumns(i, columns: columns, depths: depths) {
            let m = ExponentiateRow.rowMax(row, n)
            let sum = VectorMath.expShiftedInPlace(row, n, shift: m)
            let inverse = 1 / sum
            for j in 0..<n { row[j] *= inverse }
            (row + n).update(repeating: 0, count: width - n)
            return m + log(sum)
        }
        return withChain(of: i, columns: columns, parents: parents, depth: n) { keys, values in
            maskedSoftmaxRow(row, count: width, keys: keys, n: n, values: values)
        }
    }

    /// Runs `body(keys, values)` with query i's chain of visible keys (as the block's columns,
    /// nearest first) in `keys` and `depth` floats of scratch in `values`.
    @inline(__always)
    static func withChain<R>(
        of i: Int, columns: UnsafeBufferPointer<Int32>, parents: UnsafeBufferPointer<Int32>, depth: Int,
        _ body: (UnsafeMutablePointer<Int>, UnsafeMutablePointer<Float>) -> R
    ) -> R {
        withUnsafeTemporaryAllocation(of: Int.self, capacity: depth) { keys in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: depth) { values in
                let n = chain(from: i, parents: parents, into: keys.baseAddress!)
                for j in 0..<n { keys[j] = Int(columns[keys[j]]) }
                return body(keys.baseAddress!, values.baseAddress!)
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

    /// Accumulates (`+=`) dq, dk, dv from dOut, per block and query head h (kv head g), all by
    /// GEMM over the block's rows and keys: P is recomputed from S and lse; dV_g += P^T dO_h;
    /// dP = dO_h V_g^T; dS = P * (dP - D) with D_i = dO_i . O_i; dQ_h += scale dS K_g;
    /// dK_g += scale dS^T Q_h.
    public static func backward(
        dOut: UnsafePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        out: UnsafePointer<Float>, lse: UnsafePointer<Float>,
        dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
        shape s: Shape, mask: AttentionMask, scale: Float
    ) {
        guard s.tokens > 0 else { return }
        let blocks = blocks(mask)
        let widest = blocks.map(\.width).max() ?? 0, gathered = widestGathered(blocks) * s.kvStride
        var columns = [Int32](repeating: 0, count: s.tokens)
        ScratchPool.shared.with(count: 2 * rowBlock * widest + 4 * gathered) { scratch in
            let probs = scratch, dProbs = scratch + rowBlock * widest
            // A gathered block's keys and values, and its dK and dV before they are added back.
            let keysGathered = dProbs + rowBlock * widest, valuesGathered = keysGathered + gathered
            let dkGathered = valuesGathered + gathered, dvGathered = dkGathered + gathered
            mask.parents.withUnsafeBufferPointer { parents in
                mask.depths.withUnsafeBufferPointer { depths in
                    columns.withUnsafeMutableBufferPointer { columns in
                        for block in blocks {
                            let rows = block.rows.count, w = block.width, k0 = block.keyStart, a = block.rows.lowerBound
                            setColumns(of: block, columns)
                            var kb = k + k0 * s.kvStride, vb = v + k0 * s.kvStride
                            var dkb = dk + k0 * s.kvStride, dvb = dv + k0 * s.kvStride
                            if let keys = block.keys {
                                gatherRows(k, keys, stride: s.kvStride, into: keysGathered)
                                gatherRows(v, keys, stride: s.kvStride, into: valuesGathered)
                                dkGathered.update(repeating: 0, count: w * s.kvStride)
                                dvGathered.update(repeating: 0, count: w * s.kvStride)
                                kb = UnsafePointer(keysGathered)
                                vb = UnsafePointer(valuesGathered)
                                dkb = dkGathered
                                dvb = dvGathered
                            }
                            let cols = UnsafeBufferPointer(columns)
                            for h in 0..<s.qHeads {
                                let g = h / s.group
                                let qh = q + a * s.qStride + h * s.headDim, doh = dOut + a * s.qStride + h * s.headDim
                                let oh = out + a * s.qStride + h * s.headDim
                                let kg = kb + g * s.headDim, vg = vb + g * s.headDim
                                Gemm.strided(transposeA: false, transposeB: true, m: rows, n: w, k: s.headDim, alpha: scale,
                                             a: qh, lda: s.qStride, b: kg, ldb: s.kvStride, c: probs, ldc: w)
                                Compute.parallelFor(rows, minChunk: max(1, 4096 / w)) { chunk in
                                    for r in chunk {
                                        probabilitiesRow(probs + r * w, width: w, query: a + r, columns: cols,
                                                         lse: lse[(a + r) * s.qHeads + h], parents: parents, depths: depths)
                                    }
                                }
                                Gemm.strided(transposeA: true, transposeB: false, m: w, n: s.headDim, k: rows,
                                             a: probs, lda: w, b: doh, ldb: s.qStride, beta: 1,
                                             c: dvb + g * s.headDim, ldc: s.kvStride)
                                Gemm.strided(transposeA: false, transposeB: true, m: rows, n: w, k: s.headDim,
                                             a: doh, lda: s.qStride, b: vg, ldb: s.kvStride, c: dProbs, ldc: w)
                                Compute.parallelFor(rows, minChunk: max(1, 4096 / w)) { chunk in
                                    for r in chunk {
                                        let d = VectorMath.dot(doh + r * s.qStride, oh + r * s.qStride, s.headDim)
                                        let p = probs + r * w, dp = dProbs + r * w
                                        // Keys past the query have p = 0, and so dS = 0.
                                        let seen = seesFirstColumns(a + r, columns: cols, depths: depths) ? Int(depths[a + r]) : w
                                        for j in 0..<seen { dp[j] = p[j] * (dp[j] - d) }
                                        (dp + seen).update(repeating: 0, count: w - seen)
                                    }
                                }
                                Gemm.strided(transposeA: false, transposeB: false, m: rows, n: s.headDim, k: w, alpha: scale,
                                             a: dProbs, lda: w, b: kg, ldb: s.kvStride, beta: 1,
                                             c: dq + a * s.qStride + h * s.headDim, ldc: s.qStride)
                                Gemm.strided(transposeA: true, transposeB: false, m: w, n: s.headDim, k: rows, alpha: scale,
                                             a: dProbs, lda: w, b: qh, ldb: s.qStride, beta: 1,
                                             c: dkb + g * s.headDim, ldc: s.kvStride)
                            }
                            if let keys = block.keys {
                                scatterAddRows(dkGathered, keys, stride: s.kvStride, into: dk)
                                scatterAddRows(dvGathered, keys, stride: s.kvStride, into: dv)
                            }
                        }
                    }
                }
            }
        }
    }

    /// Replaces one row of scores by the forward's probabilities exp(S - lse) on query i's
    /// visible keys, zero elsewhere.
    @inline(__always)
    static func probabilitiesRow(
        _ row: UnsafeMutablePointer<Float>, width: Int, query i: Int, columns: UnsafeBufferPointer<Int32>,
        lse: Float, parents: UnsafeBufferPointer<Int32>, depths: UnsafeBufferPointer<Int32>
    ) {
        let n = Int(depths[i])
        if seesFirstColumns(i, columns: columns, depths: depths) {
            _ = VectorMath.expShiftedInPlace(row, n, shift: lse)
            (row + n).update(repeating: 0, count: width - n)
            return
        }
        withChain(of: i, columns: columns, parents: parents, depth: n) { keys, values in
            for j in 0..<n { values[j] = exp(row[keys[j]] - lse) }
            scatterRow(row, count: width, keys: keys, n: n, values: values, scale: 1)
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
