import Tensors

/// Cached keys and values, in blocks that form a forest (the tree cache of docs/architecture.md).
///
/// Storage per layer: K and V `[slots, kvHeads * headDim]`. A block is a run of contiguous slots
/// reserved at once, owned by one node: a plain sequence is a chain of one block (prompt and
/// generated tokens); a tree node is a block whose parent is the node it continues. A token in
/// block b at offset o sees b's tokens 0...o, then the first `parentVisible` tokens of b's parent,
/// and so on up the chain; nothing is ever copied. Its position id is `base + o`, where `base` is
/// the number of tokens before the block on its chain.
///
/// Blocks and slots are handed out by bump allocation and freed all at once by `reset()`;
/// everything is allocated up front, so decoding allocates nothing.
public final class KVCache {
    public struct Block: Equatable, Sendable {
        /// First slot and number of reserved slots.
        public var start: Int
        public var capacity: Int
        /// Tokens written so far (slots start ..< start + count).
        public var count: Int
        /// Parent block, or -1 for a root.
        public var parent: Int
        /// How many of the parent's tokens this block sees (the parent's count when forked).
        public var parentVisible: Int
        /// Tokens before this block on its chain: the position id of its first token.
        public var base: Int
    }

    public let layers: Int
    /// kvHeads * headDim: floats per token per layer, for K and for V.
    public let rowSize: Int
    public let slotCapacity: Int
    public let blockCapacity: Int
    /// `[layers, slots, rowSize]`
    let keys: UnsafeMutablePointer<Float>
    let values: UnsafeMutablePointer<Float>
    let blockStore: UnsafeMutablePointer<Block>
    /// Per-thread attention score buffers, as long as the whole cache (the longest context).
    let scratch: AttentionScratch
    /// `CachedPrefillAttention`'s score matrix, grown on demand (a prefill, never a decode step).
    private var prefillStorage: UnsafeMutablePointer<Float>?
    private var prefillCapacity = 0
    public private(set) var blockCount = 0
    public private(set) var usedSlots = 0

    public init(config: ModelConfig, slots: Int, blocks: Int) {
        precondition(slots >= 1 && blocks >= 1, "KVCache: need at least one slot and one block")
        layers = config.layers
        rowSize = config.kvHeads * config.headDim
        slotCapacity = slots
        blockCapacity = blocks
        keys = .allocate(capacity: layers * slots * rowSize)
        values = .allocate(capacity: layers * slots * rowSize)
        keys.initialize(repeating: 0, count: layers * slots * rowSize)
        values.initialize(repeating: 0, count: layers * slots * rowSize)
        blockStore = .allocate(capacity: blocks)
        scratch = AttentionScratch(workers: max(Compute.threads, Compute.defaultThreads), length: slots)
    }

    deinit {
        keys.deallocate()
        values.deallocate()
        blockStore.deallocate()
        prefillStorage?.deallocate()
    }

    /// At least `count` floats of scratch for a prefill's scores (contents undefined).
    func prefillScores(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > prefillCapacity {
            prefillStorage?.deallocate()
            prefillCapacity = max(count, 2 * prefillCapacity)
            prefillStorage = .allocate(capacity: prefillCapacity)
        }
        return prefillStorage!
    }

    /// Forgets every block; the storage is reused.
    public func reset() {
        blockCount = 0
        usedSlots = 0
    }

    public func block(_ b: Int) -> Block { blockStore[b] }

    /// Reserves a block of `capacity` slots continuing `parent` (nil: a root). The parent's
    /// tokens written so far become this block's context; the parent should not grow after.
    public func makeBlock(parent: Int? = nil, capacity: Int) throws -> Int {
        guard blockCount < blockCapacity else {
            throw KVCacheError("all \(blockCapacity) blocks are in use; make the cache with more blocks")
        }
        guard capacity >= 1, usedSlots + capacity <= slotCapacity else {
            throw KVCacheError("a block of \(capacity) slots does not fit: \(usedSlots) of \(slotCapacity) slots are in use")
        }
        var base = 0, visible = 0
        if let parent {
            guard parent >= 0 && parent < blockCount else {
                throw KVCacheError("parent block \(parent) does not exist (\(blockCount) blocks)")
            }
            visible = blockStore[parent].count
            base = blockStore[parent].base + visible
        }
        blockStore[blockCount] = Block(start: usedSlots, capacity: capacity, count: 0, parent: parent ?? -1,
                                       parentVisible: visible, base: base)
        usedSlots += capacity
        blockCount += 1
        return blockCount - 1
    }

    /// Takes the next slot of block `b` for a new token; returns (slot, position id).
    public func appendSlot(to b: Int) throws -> (slot: Int, position: Int) {
        guard b >= 0 && b < blockCount else { throw KVCacheError("block \(b) does not exist (\(blockCount) blocks)") }
        let blk = blockStore[b]
        guard blk.count < blk.capacity else {
            throw KVCacheError("block \(b) is full (\(blk.capacity) tokens); reserve a larger block")
        }
        blockStore[b].count += 1
        return (blk.start + blk.count, blk.base + blk.count)
    }

    /// Tokens a new token appended to `b` would see before itself.
    public func contextLength(of b: Int) -> Int { blockStore[b].base + blockStore[b].count }

    /// `[slots, rowSize]` keys and values of one layer.
    @inline(__always) func keys(layer: Int) -> UnsafeMutablePointer<Float> { keys + layer * slotCapacity * rowSize }
    @inline(__always) func values(layer: Int) -> UnsafeMutablePointer<Float> { values + layer * slotCapacity * rowSize }

    /// Calls `body(firstSlot, count)` for the visible prefix of each ancestor of block `b`,
    /// root-most first (together `b`'s `base` tokens). Walks the chain once to find its length,
    /// then once per ancestor: chains are short next to the work done per run.
    func forEachAncestorRun(block b: Int, _ body: (Int, Int) -> Void) {
        var depth = 0, p = blockStore[b].parent
        while p >= 0 { depth += 1; p = blockStore[p].parent }
        for level in stride(from: depth, to: 0, by: -1) {
            // The ancestor `level` steps up, and how much of it the block below it sees.
            var child = b, node = blockStore[b].parent
            for _ in 1..<level { child = node; node = blockStore[node].parent }
            let visible = blockStore[child].parentVisible
            if visible > 0 { body(blockStore[node].start, visible) }
        }
    }

    /// Calls `body(firstSlot, count)` for each visible run of a token at `slot` in block `b`,
    /// nearest first: b's slots up to and including `slot`, then each ancestor's visible prefix.
    @inline(__always)
    func forEachVisibleRun(block b: Int, slot: Int, _ body: (Int, Int) -> Void) {
        var blk = blockStore[b]
        body(blk.start, slot - blk.start + 1)
        while blk.parent >= 0 {
            let visible = blk.parentVisible
            blk = blockStore[blk.parent]
            if visible > 0 { body(blk.start, visible) }
        }
    }
}

/// A cache request that cannot be met, saying what was asked and what is available.
public struct KVCacheError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "KV cache: \(message)" }
}
