import Foundation
import Tensors

/// Attention of cached rows: each query row attends to the visible runs of its block chain
/// (`KVCache.forEachVisibleRun`), whose K/V the layer has already written.
///
/// q, out `[rows, heads * headDim]`, lse `[rows, heads]`. Work is split over (row, head) pairs so
/// that a single decoding sequence still uses every thread, unless the whole step is too small
/// to be worth sharing.
enum CachedAttention {
    /// Multiply-adds below which the step runs on the calling thread.
    static let parallelWork = 32_768

    static func forward(
        q: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>,
        batch: CachedBatch, cache: KVCache, layer: Int, heads: Int, kvHeads: Int, headDim: Int,
        scale: Float, scores: AttentionScratch
    ) {
        let rows = batch.count, items = rows * heads, group = heads / kvHeads
        let qStride = heads * headDim, kvStride = kvHeads * headDim
        let keys = cache.keys(layer: layer), values = cache.values(layer: layer)
        var work = 0
        for r in 0..<rows { work += cache.contextLength(of: Int(batch.blocks[r])) }
        work *= 2 * heads * headDim
        // Chunks of (row, head) items on SpinningWorkers, each thread with its own score buffer
        // (slot); serial when the step is small or the cache was made for fewer threads.
        let parallel = work >= parallelWork && Compute.threads <= scores.workers
        let chunks = parallel ? min(items, 4 * Compute.threads) : 1
        SpinningWorkers.shared.run(chunks: chunks) { chunk, slot in
            let sc = scores[slot]
            for item in Compute.chunkRange(chunk, of: chunks, count: items) {
                let r = item / heads, h = item % heads
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
