import Foundation
import Tensors

/// Attention of a prompt in the KV cache: rows of one block at consecutive slots (a prefill),
/// by GEMMs instead of one (row, head) pair at a time.
///
/// All rows of the run see the same ancestor runs (the block's `base` tokens) and a prefix of
/// the block's own slots that grows by one per row. Per chunk of up to `chunkRows` query rows
/// and per head h (kv head g):
///   S = scale Q_h K_g^T   `[m, N]`, N = ancestor keys + own keys up to the chunk's last row
///   P = row softmax of S over each row's visible prefix (zero past it: the causal mask)
///   O_h = P V_g           `[m, headDim]`, into out's head slice
/// Keys are taken ancestors first (root-most first), then the block's own slots, so that each
/// row's visible keys are a prefix of its score row. Chunking skips most of the masked-out
/// upper triangle; the GEMMs run on OpenBLAS's threads (or `Gemm.fewRows` for a short last
/// chunk), the softmax rows on Dispatch (`Compute.parallelFor`).
enum CachedPrefillAttention {
    static let chunkRows = 128

    static func forward(
        rows: Range<Int>, q: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>,
        batch: CachedBatch, cache: KVCache, layer: Int, heads: Int, kvHeads: Int, headDim: Int, scale: Float
    ) {
        let qStride = heads * headDim, kvStride = kvHeads * headDim, group = heads / kvHeads
        let keys = cache.keys(layer: layer), values = cache.values(layer: layer)
        let b = Int(batch.blocks[rows.lowerBound]), blk = cache.block(b)
        let ancestors = blk.base
        var c0 = rows.lowerBound
        while c0 < rows.upperBound {
            let c1 = min(c0 + chunkRows, rows.upperBound), m = c1 - c0
            let own = Int(batch.slots[c1 - 1]) - blk.start + 1, n = ancestors + own
            let s = cache.prefillScores(m * n)
            for h in 0..<heads {
                let kvOffset = (h / group) * headDim
                let qh = q + c0 * qStride + h * headDim, oh = out + c0 * qStride + h * headDim
                // S, run by run.
                var col = 0
                cache.forEachAncestorRun(block: b) { start, count in
                    Gemm.strided(transposeA: false, transposeB: true, m: m, n: count, k: headDim, alpha: scale,
                                 a: qh, lda: qStride, b: keys + start * kvStride + kvOffset, ldb: kvStride,
                                 c: s + col, ldc: n)
                    col += count
                }
                Gemm.strided(transposeA: false, transposeB: true, m: m, n: own, k: headDim, alpha: scale,
                             a: qh, lda: qStride, b: keys + blk.start * kvStride + kvOffset, ldb: kvStride,
                             c: s + ancestors, ldc: n)
                // P, row by row: row j sees the ancestors and own slots up to its own.
                // On Dispatch: its workers sleep after the loop, where `SpinningWorkers` would
                // poll beside the OpenBLAS threads of the next GEMM.
                Compute.parallelFor(m, minChunk: max(1, 16_384 / n)) { range in
                    for j in range {
                        let visible = ancestors + Int(batch.slots[c0 + j]) - blk.start + 1
                        let row = s + j * n
                        let mx = VectorMath.maxSIMD(row, visible)
                        let sum = VectorMath.expShiftedInPlace(row, visible, shift: mx)
                        let inv = 1 / sum
                        for i in 0..<visible { row[i] *= inv }
                        (row + visible).update(repeating: 0, count: n - visible)
                        lse[(c0 + j) * heads + h] = mx + logf(sum)
                    }
                }
                // O_h = P V, run by run, accumulating after the first.
                col = 0
                cache.forEachAncestorRun(block: b) { start, count in
                    Gemm.strided(transposeA: false, transposeB: false, m: m, n: headDim, k: count,
                                 a: s + col, lda: n, b: values + start * kvStride + kvOffset, ldb: kvStride,
                                 beta: col == 0 ? 0 : 1, c: oh, ldc: qStride)
                    col += count
                }
                Gemm.strided(transposeA: false, transposeB: false, m: m, n: headDim, k: own,
                             a: s + ancestors, lda: n, b: values + blk.start * kvStride + kvOffset, ldb: kvStride,
                             beta: ancestors == 0 ? 0 : 1, c: oh, ldc: qStride)
            }
            c0 = c1
        }
    }
}
