import Foundation

/// Byte-pair encoding of one word: start from one symbol per code point, then repeatedly merge the
/// adjacent pair with the lowest merge rank (leftmost on ties) until no pair has a merge.
/// Results are cached per word; the cache is the only mutable state and sits behind a lock.
final class BPEModel: @unchecked Sendable {
    /// token string -> id, and id -> token string (nil where an id is unused).
    let vocab: [String: Int]
    let idToToken: [String?]
    /// (left id << 32 | right id) -> (rank, merged id).
    private let merges: [UInt64: (rank: Int32, id: Int32)]
    /// Ids of single-code-point tokens, which start every word.
    private let scalarIds: [UInt32: Int32]
    private let unkId: Int32?
    private let fuseUnk: Bool
    /// ids of `<0x00>` ... `<0xFF>` when `byte_fallback` is on.
    private let byteFallbackIds: [Int32]?
    private let ignoreMerges: Bool

    private var cache: [ArraySlice<Unicode.Scalar>: [Int32]] = [:]
    private let lock = NSLock()
    private static let cacheLimit = 100_000

    init(_ config: BPEConfig) throws {
        vocab = config.vocab
        // Every id is checked before the id -> token table is sized by the largest.
        for (token, id) in config.vocab where id < 0 || id > Tokenizer.maxTokenId {
            throw FieldError(field: "model.vocab", expected: "ids in 0...\(Tokenizer.maxTokenId) (treerpo's limit)",
                             found: "\(id) for \"\(token)\"")
        }
        var reverse = [String?](repeating: nil, count: (config.vocab.values.max() ?? -1) + 1)
        var scalarIds: [UInt32: Int32] = [:]
        for (token, id) in config.vocab {
            reverse[id] = token
            let scalars = token.unicodeScalars
            if scalars.count == 1 { scalarIds[scalars.first!.value] = Int32(id) }
        }
        idToToken = reverse
        self.scalarIds = scalarIds

        var merges: [UInt64: (rank: Int32, id: Int32)] = [:]
        merges.reserveCapacity(config.merges.count)
        for (rank, (a, b)) in config.merges.enumerated() {
            for part in [a, b] where config.vocab[part] == nil {
                throw FieldError(field: "model.merges[\(rank)]", expected: "both parts of \"\(a) \(b)\" in model.vocab",
                                 found: "\"\(part)\" missing from the vocabulary")
            }
            guard let merged = config.vocab[a + b] else {
                throw FieldError(field: "model.merges[\(rank)]", expected: "the merged token \"\(a + b)\" in model.vocab",
                                 found: "it missing from the vocabulary")
            }
            let key = UInt64(config.vocab[a]!) << 32 | UInt64(config.vocab[b]!)
            merges[key] = (Int32(rank), Int32(merged))  // a repeated pair keeps its last rank, as in the library
        }
        self.merges = merges

        if let unk = config.unkToken {
            guard let id = config.vocab[unk] else {
                throw FieldError(field: "model.unk_token", expected: "a token in model.vocab", found: "\"\(unk)\"")
            }
            unkId = Int32(id)
        } else {
            unkId = nil
        }
        fuseUnk = config.fuseUnk
        ignoreMerges = config.ignoreMerges
        if config.byteFallback {
            byteFallbackIds = (0..<256).map { byte in
                Int32(config.vocab[String(format: "<0x%02X>", byte)] ?? -1)
            }
        } else {
            byteFallbackIds = nil
        }
    }

    /// Appends the ids of `word` to `out`.
    func encode(_ word: ArraySlice<Unicode.Scalar>, into out: inout [Int]) {
        lock.lock()
        let cached = cache[word]
        lock.unlock()
        if let cached {
            for id in cached { out.append(Int(id)) }
            return
        }
        let ids = merge(word)
        lock.lock()
        if cache.count >= BPEModel.cacheLimit { cache.removeAll(keepingCapacity: true) }
        cache[ArraySlice(Array(word))] = ids  // a compact copy, not a view into the caller's buffer
        lock.unlock()
        for id in ids { out.append(Int(id)) }
    }

    private func initialSymbols(_ word: ArraySlice<Unicode.Scalar>) -> [Int32] {
        var ids: [Int32] = []
        ids.reserveCapacity(word.count)
        for scalar in word {
            if let id = scalarIds[scalar.value] {
                ids.append(id)
            } else if let fallback = byteFallbackIds,
                      case let bytes = Array(String(scalar).utf8), bytes.allSatisfy({ fallback[Int($0)] >= 0 }) {
                for byte in bytes { ids.append(fallback[Int(byte)]) }
            } else if let unk = unkId {
                if !(fuseUnk && ids.last == unk) { ids.append(unk) }
            }
            // No vocabulary entry and no unk token: the code point is dropped, as in the library.
        }
        return ids
    }

    /// Merges with a min-heap of candidate pairs keyed (rank << 32 | position); stale entries
    /// (a side already merged away) are skipped when popped. O(n log n) in the word length.
    private func merge(_ word: ArraySlice<Unicode.Scalar>) -> [Int32] {
        if ignoreMerges, let id = vocab[String(String.UnicodeScalarView(word))] { return [Int32(id)] }
        var ids = initialSymbols(word)
        let n = ids.count
        if n < 2 { return ids }
        var next = Array(1...n)  // n = none
        next[n - 1] = -1
        var prev = Array(-1..<(n - 1))
        var heap = MinHeap()
        func push(_ pos: Int) {
            let right = next[pos]
            guard right >= 0, let m = merges[UInt64(UInt32(ids[pos])) << 32 | UInt64(UInt32(ids[right]))] else { return }
            heap.push(UInt64(UInt32(m.rank)) << 32 | UInt64(pos))
        }
        for pos in 0..<(n - 1) { push(pos) }
        var alive = [Bool](repeating: true, count: n)
        while let top = heap.pop() {
            let pos = Int(top & 0xFFFF_FFFF)
            let rank = Int32(truncatingIfNeeded: top >> 32)
            let right = next[pos]
            guard alive[pos], right >= 0,
                  let m = merges[UInt64(UInt32(ids[pos])) << 32 | UInt64(UInt32(ids[right]))], m.rank == rank
            else { continue }
            ids[pos] = m.id
            alive[right] = false
            next[pos] = next[right]
            if next[pos] >= 0 { prev[next[pos]] = pos }
            if prev[pos] >= 0 { push(prev[pos]) }
            push(pos)
        }
        var result: [Int32] = []
        var pos = 0
        while pos >= 0 {
            result.append(ids[pos])
            pos = next[pos]
        }
        return result
    }
}

/// A binary min-heap of UInt64 keys.
private struct MinHeap {
    private var items: [UInt64] = []

    mutating func push(_ key: UInt64) {
        items.append(key)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if items[parent] <= items[i] { break }
            items.swapAt(parent, i)
            i = parent
        }
    }

    mutating func pop() -> UInt64? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var smallest = i
                if l < items.count && items[l] < items[smallest] { smallest = l }
                if r < items.count && items[r] < items[smallest] { smallest = r }
                if smallest == i { break }
                items.swapAt(i, smallest)
                i = smallest
            }
        }
        return top
    }
}
