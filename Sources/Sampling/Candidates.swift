/// The candidate tokens of one sampling step, llama.cpp style: (id, logit) pairs that each
/// processor narrows or rescales, allocated once for a whole vocabulary.
public final class Candidates {
    public struct Entry: Equatable, Sendable {
        public var id: Int32
        public var logit: Float
    }

    public let capacity: Int
    public private(set) var count = 0
    /// True when entries are in descending logit order.
    public var sorted = false
    public let entries: UnsafeMutablePointer<Entry>

    public init(vocab: Int) {
        capacity = max(1, vocab)
        entries = .allocate(capacity: capacity)
    }

    deinit { entries.deallocate() }

    /// Every token of a logits row `[vocab]`.
    public func load(_ logits: UnsafePointer<Float>, vocab: Int) {
        precondition(vocab <= capacity, "Candidates: \(vocab) logits for a buffer of \(capacity)")
        for i in 0..<vocab { entries[i] = Entry(id: Int32(i), logit: logits[i]) }
        count = vocab
        sorted = false
    }

    /// Keeps the first `n` entries.
    public func truncate(_ n: Int) { count = min(count, max(1, n)) }

    public var maxLogit: Float {
        var m = -Float.infinity
        for i in 0..<count where entries[i].logit > m { m = entries[i].logit }
        return m
    }

    /// Moves the `k` largest logits to the front in descending order and keeps only them.
    /// O(count log k) with a min-heap of the best k so far; no allocation.
    public func keepTop(_ k: Int) {
        let k = min(k, count)
        guard k >= 1 else { return }
        if sorted { count = k; return }
        let e = UnsafeMutableBufferPointer(start: entries, count: count)
        func siftDown(_ start: Int, _ n: Int) {   // min-heap on logit over e[0..<n]
            var i = start
            while true {
                let l = 2 * i + 1, r = l + 1
                var s = i
                if l < n && e[l].logit < e[s].logit { s = l }
                if r < n && e[r].logit < e[s].logit { s = r }
                if s == i { return }
                e.swapAt(i, s)
                i = s
            }
        }
        for i in stride(from: k / 2 - 1, through: 0, by: -1) { siftDown(i, k) }
        for i in k..<count where e[i].logit > e[0].logit {
            e[0] = e[i]
            siftDown(0, k)
        }
        // Heap sort: popping the minimum to the back leaves e[0..<k] in descending order.
        for end in stride(from: k - 1, to: 0, by: -1) {
            e.swapAt(0, end)
            siftDown(0, end)
        }
        count = k
        sorted = true
    }

    /// Sorts the `m` largest entries to the front, descending, popping from a max-heap until
    /// `stop(entry)` returns true (or all are popped); returns m. Cost O(count + m log count).
    public func sortPrefix(until stop: (Entry) -> Bool) -> Int {
        if sorted {
            for i in 0..<count where stop(entries[i]) { return i + 1 }
            return count
        }
        let e = UnsafeMutableBufferPointer(start: entries, count: count), n0 = count
        func siftDown(_ start: Int, _ n: Int) {   // max-heap on logit over e[0..<n]
            var i = start
            while true {
                let l = 2 * i + 1, r = l + 1
                var s = i
                if l < n && e[l].logit > e[s].logit { s = l }
                if r < n && e[r].logit > e[s].logit { s = r }
                if s == i { return }
                e.swapAt(i, s)
                i = s
            }
        }
        for i in stride(from: n0 / 2 - 1, through: 0, by: -1) { siftDown(i, n0) }
        var heap = n0, m = 0
        while heap > 0 {
            e.swapAt(0, heap - 1)
            heap -= 1
            m += 1
            siftDown(0, heap)
            if stop(e[heap]) { break }
        }
        // Popped entries sit at the back in ascending order: reverse the whole buffer.
        var i = 0, j = n0 - 1
        while i < j { e.swapAt(i, j); i += 1; j -= 1 }
        count = m
        sorted = true
        return m
    }
}
