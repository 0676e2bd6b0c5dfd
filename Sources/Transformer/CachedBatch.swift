import Foundation
import Tensors

/// The tokens of one cached forward: each row is one token appended to a cache block, with its
/// slot and position taken from the cache as it is added. Rows of one block must be added in
/// order. A decode step is one row per sequence; a prefill is a sequence's prompt, several
/// prompts side by side. Buffers are allocated once for `capacity` rows.
public final class CachedBatch {
    public let capacity: Int
    public private(set) var count = 0
    /// Rows whose logits the forward computes, in this order.
    public private(set) var logitCount = 0
    /// `[capacity]` each: token id, position id, cache block and cache slot of each row.
    public let tokens: UnsafeMutablePointer<Int32>
    public let positions: UnsafeMutablePointer<Int32>
    public let blocks: UnsafeMutablePointer<Int32>
    public let slots: UnsafeMutablePointer<Int32>
    /// `[capacity]` rows whose logits are wanted.
    public let logitRows: UnsafeMutablePointer<Int32>

    public init(capacity: Int) {
        precondition(capacity >= 1, "CachedBatch: capacity must be at least 1, got \(capacity)")
        self.capacity = capacity
        tokens = .allocate(capacity: capacity)
        positions = .allocate(capacity: capacity)
        blocks = .allocate(capacity: capacity)
        slots = .allocate(capacity: capacity)
        logitRows = .allocate(capacity: capacity)
    }

    deinit {
        for p in [tokens, positions, blocks, slots, logitRows] { p.deallocate() }
    }

    public func removeAll() {
        count = 0
        logitCount = 0
    }

    /// Appends `token` to cache block `block` (taking its next slot); returns the row.
    @discardableResult
    public func append(token: Int, block: Int, cache: KVCache, wantLogits: Bool = false) throws -> Int {
        guard count < capacity else {
            throw KVCacheError("the batch holds at most \(capacity) tokens per forward")
        }
        let (slot, position) = try cache.appendSlot(to: block)
        tokens[count] = Int32(truncatingIfNeeded: token)
        positions[count] = Int32(position)
        blocks[count] = Int32(block)
        slots[count] = Int32(slot)
        if wantLogits {
            logitRows[logitCount] = Int32(count)
            logitCount += 1
        }
        count += 1
        return count - 1
    }
}

/// Attention of cached rows: each query row attends to the visible runs of its block chain
/// (`KVCache.forEachVisibleRun`), whose K/V the layer has already written.
///
/// q, out `[rows, heads * headDim]`, lse `[rows, heads]`. Work is split over (row, head) pairs so
/// that a single decoding sequence still uses every thread.
enum CachedAttention {
    static func forward(
        q: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>,
        batch: CachedBatch, cache: KVCache, layer: Int, heads: Int, kvHeads: Int, headDim: Int,
        scale: Float, scores: AttentionScratch
    ) {
        let rows = batch.count, items = rows * heads, group = heads / kvHeads
        let qStride = heads * headDim, kvStride = kvHeads * headDim
        let keys = cache.keys(layer: layer), values = cache.values(layer: layer)
        let workers = min(scores.workers, max(1, items / 2))
        Compute.parallelWorkers(workers) { w in
            let sc = scores[w]
            for item in Compute.chunkRange(w, of: workers, count: items) {
                let r = item / heads, h = item % heads
                let qi = q + r * qStride + h * headDim
                let kvOffset = (h / group) * headDim
                // Pass 1: scaled scores of every visible key, and their maximum.
                var n = 0
                var m = -Float.infinity
                cache.forEachVisibleRun(block: Int(batch.blocks[r]), slot: Int(batch.slots[r])) { start, count in
                    for j in start..<(start + count) {
                        let s = scale * VectorMath.dot(qi, keys + j * kvStride + kvOffset, headDim)
                        sc[n] = s
                        n += 1
                        if s > m { m = s }
                    }
                }
                var sum: Float = 0
                for j in 0..<n {
                    let e = expf(sc[j] - m)
                    sc[j] = e
                    sum += e
                }
                // Pass 2: the probability-weighted sum of values, in the same key order.
                let oi = out + r * qStride + h * headDim
                oi.initialize(repeating: 0, count: headDim)
                let inv = 1 / sum
                n = 0
                cache.forEachVisibleRun(block: Int(batch.blocks[r]), slot: Int(batch.slots[r])) { start, count in
                    for j in start..<(start + count) {
                        VectorMath.axpy(sc[n] * inv, values + j * kvStride + kvOffset, oi, headDim)
                        n += 1
                    }
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
