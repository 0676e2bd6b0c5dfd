import Foundation
import Tensors

/// Attention of cached rows: each query row attends to the visible runs of its block chain
/// (`KVCache.forEachVisibleRun`), whose K/V the layer has already written.
///
/// q, out `[rows, heads * headDim]`, lse `[rows, heads]`. Two ways through:
/// - rows one at a time (a decode step: one row per sequence): work split over (row, head)
///   pairs so that a single decoding sequence still uses every thread.
/// - a prompt (at least `gemmRunLength` rows of one block at consecutive slots): per head and
///   chunk of query rows, the scores and the weighted values are two GEMMs over the chunk's
///   keys (`CachedPrefillAttention`), so each cached K/V row is read once per chunk, not once
///   per query row.
enum CachedAttention {
    /// Multiply-adds below which the step runs on the calling thread.
    static let parallelWork = 32_768
    /// Rows of one block at consecutive slots from which the GEMM path pays.
    static let gemmRunLength = 16

    static func forward(
        q: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>,
        batch: CachedBatch, cache: KVCache, layer: Int, heads: Int, kvHeads: Int, headDim: Int,
        scale: Float, scores: AttentionScratch
    ) {
        // Split the rows into runs (same block, consecutive slots); long runs take the GEMM
        // path, everything between them the row-by-row one.
        let rows = batch.count
        var pending = 0, r = 0
        while r < rows {
            var end = r + 1
            while end < rows && batch.blocks[end] == batch.blocks[r] && batch.slots[end] == batch.slots[end - 1] + 1 {
                end += 1
            }
            if end - r >= gemmRunLength {
                if pending < r {
                    forwardRows(pending..<r, q: q, out: out, lse: lse, batch: batch, cache: cache, layer: layer,
                                heads: heads, kvHeads: kvHeads, headDim: headDim, scale: scale, scores: scores)
                }
                CachedPrefillAttention.forward(rows: r..<end, q: q, out: out, lse: lse, batch: batch, cache: cache,
                                               layer: layer, heads: heads, kvHeads: kvHeads, headDim: headDim, scale: scale)
                pending = end
            }
            r = end
        }
        if pending < rows {
            forwardRows(pending..<rows, q: q, out: out, lse: lse, batch: batch, cache: cache, layer: layer,
                        heads: heads, kvHeads: kvHeads, headDim: headDim, scale: scale, scores: scores)
        }
    }

    /// Rows `range` one (row, head) pair at a time.
    static func forwardRows(
        _ range: Range<Int>, q: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>,
        batch: CachedBatch, cache: KVCache, layer: Int, heads: Int, kvHeads: Int, headDim: Int,
        scale: Float, scores: AttentionScratch
    ) {
        let first = range.lowerBound, items = range.count * heads, group = heads / kvHeads
        let qStride = heads * headDim, kvStride = kvHeads * headDim
        let keys = cache.keys(layer: layer), values = cache.values(layer: layer)
        var work = 0
        for r in range { work += cache.contextLength(of: Int(batch.blocks[r])) }
        work *= 2 * heads * headDim
        // Chunks of (row, head) items on SpinningWorkers, each thread with its own score buffer
        // (slot); serial when the step is small or the cache was made for fewer threads.
        let parallel = work >= parallelWork && Compute.threads <= scores.workers
        let chunks = parallel ? min(items, 4 * Compute.threads) : 1
        SpinningWorkers.shared.run(chunks: chunks) { chunk, slot in
            let sc = scores[slot]
            for item in Compute.chunkRange(chunk, of: chunks, count: items) {
                let r = first + item / heads, h = item % heads
                let qi = q + r * qStride + h * headDim
                let kvOffset = (h / group) * headDim
                let block = Int(batch.blocks[r]), slot = Int(batch.slots[r])
                // Pass 1: scaled scores of every visible key, nearest run first.
                var n = 0
                cache.forEachVisibleRun(block: block, slot: slot) { start, count in
                    VectorMath.scaledDots(qi, rows: keys + start * kvStride + kvOffset, stride: kvStride, count: count,
                                          n: headDim, scale: scale, into: sc + n)
                    n += count
                }
                let m = VectorMath.maxSIMD(sc, n)
                let sum = VectorMath.expShiftedInPlace(sc, n, shift: m)
                // Pass 2: the probability-weighted sum of values, in the same key order.
                let inv = 1 / sum
                for j in 0..<n { sc[j] *= inv }
                let oi = out + r * qStride + h * headDim
                oi.initialize(repeating: 0, count: headDim)
                n = 0
                cache.forEachVisibleRun(block: block, slot: slot) { start, count in
                    VectorMath.addWeightedRows(sc + n, rows: values + start * kvStride + kvOffset, stride: kvStride,
                                               count: count, n: headDim, into: oi)
                    n += count
                }
                lse[r * heads + h] = m + logf(sum)
            }
        }
    }
}

/// Per-worker score buffers for `CachedAttention`, each as long as the longest context.
final class AttentionScratch {
    let workers: Int, length: Int
    private let storage: UnsafeMutablePointer<Float>
    init(workers: Int, length: Int) {
        self.workers = max(1, workers)
        self.length = max(1, length)
        storage = .allocate(capacity: self.workers * self.length)
    }
    deinit { storage.deallocate() }
    subscript(worker: Int) -> UnsafeMutablePointer<Float> { storage + worker * length }
}
