import Foundation
import Synchronization

/// A parallel loop for the decode kernels, whose calls are short and back to back (about 200
/// per token for a 30-layer model, each a few tens of microseconds).
///
/// Why not `Compute.parallelFor`: Dispatch puts an idle worker thread to sleep, and waking it
/// takes longer than such a call lasts, so the calling thread ends up doing every chunk itself
/// (measured here: one-sequence decode at 2 threads ran at the one-thread rate). These workers
/// instead poll for the next job for a while (`spinNanoseconds`, yielding the core between polls),
/// as OpenBLAS's and onnxruntime's do, and only then sleep on a condition variable.
///
/// Chunks are claimed one at a time from a shared counter, so a late worker never holds up the
/// caller: the caller takes whatever chunks are left. `run` returns when every chunk is done.
/// A call made from inside a chunk (nested) runs serially on its thread.
public final class SpinningWorkers: @unchecked Sendable {
    public static let shared = SpinningWorkers()

    /// How long an idle worker polls before it sleeps: longer than the gaps between the kernel
    /// calls of a decode step, short enough not to compete for long with OpenBLAS's own threads
    /// in a prefill.
    static let spinNanoseconds: UInt64 = 100_000

    /// The job being handed out: generation (bits 40...), chunk count (bits 20..<40), next chunk
    /// (bits 0..<20). One word, so that claiming a chunk also checks it belongs to this job.
    private let state = Atomic<Int>(0)
    /// Chunks of the current job not finished yet.
    private let remaining = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    private let wake = NSCondition()
    /// The current job's body; written before `state` is released, read after a chunk is claimed.
    private var body: ((Int, Int) -> Void)?
    private var started = 0
    /// Workers that take part: `Compute.threads - 1` (extra started ones stay idle).
    private let active = Atomic<Int>(0)

    private static let countShift = 20, generationShift = 40, field = (1 << 20) - 1

    /// Runs `body(chunk, slot)` once for every chunk in `0..<chunks`, on the calling thread and up
    /// to `Compute.threads - 1` workers. `slot` (`0..<Compute.threads`) names the thread running
    /// the chunk, for per-thread scratch: no two chunks run on one slot at the same time.
    public func run(chunks: Int, _ body: (_ chunk: Int, _ slot: Int) -> Void) {
        let threads = Compute.threads
        guard chunks > 1, threads > 1, chunks <= Self.field,
              busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
        else {
            for c in 0..<chunks { body(c, 0) }
            return
        }
        defer { busy.store(false, ordering: .releasing) }
        startWorkers(threads - 1)
        withoutActuallyEscaping(body) { body in
            self.body = body
            remaining.store(chunks, ordering: .relaxed)
            // Generations wrap at 2^23; a worker only compares them for equality.
            let generation = ((state.load(ordering: .relaxed) >> Self.generationShift) + 1) & ((1 << 23) - 1)
            state.store(generation << Self.generationShift | chunks << Self.countShift, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                wake.lock()
                wake.broadcast()
                wake.unlock()
            }
            work(generation: generation, slot: 0)
            while remaining.load(ordering: .acquiring) > 0 { sched_yield() }
            self.body = nil
        }
    }

    /// Claims and runs chunks of job `generation` until none is left.
    private func work(generation: Int, slot: Int) {
        while true {
            let s = state.load(ordering: .acquiring)
            let next = s & Self.field, count = (s >> Self.countShift) & Self.field
            guard s >> Self.generationShift == generation, next < count else { return }
            if state.compareExchange(expected: s, desired: s + 1, ordering: .acquiringAndReleasing).exchanged {
                body!(next, slot)
                remaining.subtract(1, ordering: .releasing)
            }
        }
    }

    private func startWorkers(_ n: Int) {
        active.store(n, ordering: .relaxed)
        while started < n {
            let index = started
            let thread = Thread { [unowned self] in self.workerLoop(index: index) }
            thread.name = "treerpo-worker-\(index + 1)"
            thread.start()
            started += 1
        }
    }

    private func workerLoop(index: Int) {
        var seen = state.load(ordering: .acquiring) >> Self.generationShift
        while true {
            var since = DispatchTime.now().uptimeNanoseconds
            var generation = state.load(ordering: .acquiring) >> Self.generationShift
            while generation == seen {
                if DispatchTime.now().uptimeNanoseconds - since < Self.spinNanoseconds {
                    sched_yield()
                } else {
                    wake.lock()
                    sleepers.add(1, ordering: .sequentiallyConsistent)
                    while state.load(ordering: .sequentiallyConsistent) >> Self.generationShift == seen { wake.wait() }
                    sleepers.subtract(1, ordering: .relaxed)
                    wake.unlock()
                    since = DispatchTime.now().uptimeNanoseconds
                }
                generation = state.load(ordering: .acquiring) >> Self.generationShift
            }
            seen = generation
            if index < active.load(ordering: .relaxed) { work(generation: generation, slot: index + 1) }
        }
    }
}
