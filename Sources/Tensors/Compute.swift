import COpenBLAS
import Dispatch
import Foundation
import Synchronization

/// The one thread-count setting of the process, shared by OpenBLAS and our own parallel loops.
public enum Compute {
    nonisolated(unsafe) private static var threadCount: Int = defaultThreads

    /// All cores the process may use.
    public static var defaultThreads: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// A count for the current task and the work it calls (see `withThreads`), not the process.
    @TaskLocal private static var taskThreads: Int?

    /// The threads `parallelFor` and the decode workers use: the current task's `withThreads`
    /// count if it set one, else the process-wide setting.
    public static var threads: Int { taskThreads ?? threadCount }

    /// Runs `body` with `threads == n` for the calling task only; OpenBLAS and every other task
    /// keep the process setting. Tests compare one thread with many this way while other suites
    /// run in parallel in the same process: `setThreads` there would change their thread count
    /// (and their numbers) mid-run.
    public static func withThreads<T>(_ n: Int, _ body: () throws -> T) rethrows -> T {
        precondition(n >= 1, "Compute.withThreads: need at least one thread, got \(n)")
        return try $taskThreads.withValue(n, operation: body)
    }

    /// Sets the thread count for OpenBLAS and `parallelFor`. Call before starting work. A process
    /// that calls it owns OpenBLAS's setting, so `dataParallel` may change it while its workers run.
    public static func setThreads(_ n: Int) {
        precondition(n >= 1, "Compute.setThreads: need at least one thread, got \(n)")
        openBLAS.withLock { state in
            threadCount = n
            state.owned = true
            if state.workerSections == 0 { openblas_set_num_threads(Int32(n)) }
        }
    }

    /// Whether the process owns OpenBLAS's thread count (`setThreads` was called) and how many
    /// `dataParallel` calls run now with it at one thread.
    private static let openBLAS = Mutex<(owned: Bool, workerSections: Int)>((false, 0))

    /// Runs `body` over contiguous sub-ranges of `0..<count`, on up to `threads` threads.
    /// `minChunk` keeps tiny loops on the calling thread: no range is shorter than it unless the
    /// whole loop is. The ranges are disjoint and cover `0..<count`; `body` may write only to
    /// memory that belongs to its range.
    public static func parallelFor(_ count: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = min(threads, max(1, count / max(1, minChunk)))
        if chunks == 1 {
            body(0..<count)
            return
        }
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            body(chunkRange(c, of: chunks, count: count))
        }
    }

    /// Runs `body(worker, workers)` once on each of `workers` threads, for loops that keep
    /// per-worker partial sums (gradients of shared weights) and reduce them afterwards.
    public static func parallelWorkers(_ workers: Int, _ body: (Int) -> Void) {
        if workers <= 1 {
            body(0)
            return
        }
        DispatchQueue.concurrentPerform(iterations: workers, execute: body)
    }

    /// Runs `body(worker)` for `worker` in `0..<workers`, each on its own thread that computes
    /// alone: its `parallelFor` loops stay on it (`withThreads(1)`) and, in a process that owns
    /// OpenBLAS's setting, OpenBLAS runs one thread per call while the workers run. For work made of independent pieces too small to split
    /// well inside one matrix product (micro-batches of a tiny model, the trees of a sampling
    /// batch): two such workers on two cores do about twice the work of one, where one piece
    /// on two threads does about 1.2x. Every worker runs, even after another throws; the error of
    /// the lowest worker is rethrown. One worker runs `body(0)` on the calling thread unchanged.
    public static func dataParallel(_ workers: Int, _ body: (Int) throws -> Void) throws {
        guard workers > 1 else { return try body(0) }
        // OpenBLAS's count is process-wide, and its products round differently on one thread
        // than on two. Only a process that owns it (the command line, via `setThreads`) sets it
        // to one thread while workers run, then back: two callers each on OpenBLAS's two threads
        // share the cores no faster than one. Elsewhere (the test process, whose suites run in
        // parallel and compare runs bit for bit) it is left alone: correct, not faster.
        openBLAS.withLock { state in
            if state.owned {
                if state.workerSections == 0 { openblas_set_num_threads(1) }
                state.workerSections += 1
            }
        }
        defer {
            openBLAS.withLock { state in
                if state.owned {
                    state.workerSections -= 1
                    if state.workerSections == 0 { openblas_set_num_threads(Int32(threadCount)) }
                }
            }
        }
        let errors = WorkerSlots<Error?>(workers, initial: nil)
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            do { try withThreads(1) { try body(w) } } catch { errors[w] = error }
        }
        if let first = errors.values.lazy.compactMap({ $0 }).first { throw first }
    }

    /// The `c`-th of `chunks` near-equal contiguous pieces of `0..<count`.
    public static func chunkRange(_ c: Int, of chunks: Int, count: Int) -> Range<Int> {
        let base = count / chunks, extra = count % chunks
        let start = c * base + min(c, extra)
        return start..<(start + base + (c < extra ? 1 : 0))
    }
}

