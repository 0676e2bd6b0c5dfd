import Synchronization
import Testing
@testable import Tensors

/// The decode kernels' parallel loop: every chunk runs exactly once per call, over many calls
/// back to back (the worker's wait/claim cycle), no slot runs two chunks at once, and a call
/// from inside a chunk completes (serially). Runs on `Compute.threads` (all cores by default).
@Suite struct SpinningWorkersTests {
    final class Cell: @unchecked Sendable {
        let value = Atomic<Int>(0)
    }

    final class Counts: @unchecked Sendable {
        let hits: [Cell]
        let slotBusy: [Cell]
        let overlaps = Atomic<Int>(0)
        init(chunks: Int, slots: Int) {
            hits = (0..<chunks).map { _ in Cell() }
            slotBusy = (0..<slots).map { _ in Cell() }
        }
    }

    @Test func everyChunkOnceOverManyCalls() {
        let slots = Compute.threads
        let onWorkers = Atomic<Int>(0)
        defer { print("SpinningWorkersTests: \(onWorkers.load(ordering: .relaxed)) chunks ran on worker threads") }
        for call in 0..<2_000 {
            let chunks = 1 + call % 37
            let counts = Counts(chunks: chunks, slots: slots)
            SpinningWorkers.shared.run(chunks: chunks) { chunk, slot in
                if counts.slotBusy[slot].value.add(1, ordering: .relaxed).newValue != 1 { counts.overlaps.add(1, ordering: .relaxed) }
                counts.hits[chunk].value.add(1, ordering: .relaxed)
                if slot > 0 { onWorkers.add(1, ordering: .relaxed) }
                counts.slotBusy[slot].value.subtract(1, ordering: .relaxed)
            }
            let hits = counts.hits.map { $0.value.load(ordering: .relaxed) }
            guard hits.allSatisfy({ $0 == 1 }) else {
                Issue.record("call \(call): chunk hit counts \(hits), expected each exactly once")
                return
            }
            #expect(counts.overlaps.load(ordering: .relaxed) == 0, "call \(call): one slot ran two chunks at once")
        }
    }

    @Test func nestedCallRunsSerially() {
        let outer = Counts(chunks: 8, slots: Compute.threads)
        let inner = Counts(chunks: 8 * 5, slots: 1)
        SpinningWorkers.shared.run(chunks: 8) { chunk, _ in
            outer.hits[chunk].value.add(1, ordering: .relaxed)
            SpinningWorkers.shared.run(chunks: 5) { c, slot in
                #expect(slot == 0)
                inner.hits[chunk * 5 + c].value.add(1, ordering: .relaxed)
            }
        }
        #expect(outer.hits.allSatisfy { $0.value.load(ordering: .relaxed) == 1 })
        #expect(inner.hits.allSatisfy { $0.value.load(ordering: .relaxed) == 1 })
    }
}
