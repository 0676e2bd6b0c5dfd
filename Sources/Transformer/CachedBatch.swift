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
