import Foundation
import Testing
@testable import Tensors

/// `Compute.withThreads` changes the thread count for the calling task only: suites that run
/// in parallel in the test process (a bit-identity training test, the decode workers' slot
/// indexing) must never see another test's thread count.
@Suite struct ComputeThreadsTests {
    @Test func withThreadsIsInvisibleToOtherTasks() {
        let process = Compute.threads
        let other = process == 1 ? 3 : 1
        Compute.withThreads(other) {
            #expect(Compute.threads == other)
            // A plain thread belongs to no task: it stands for a test running in parallel.
            let seenElsewhere = DispatchSemaphore(value: 0)
            nonisolated(unsafe) var elsewhere = 0
            Thread {
                elsewhere = Compute.threads
                seenElsewhere.signal()
            }.start()
            seenElsewhere.wait()
            #expect(elsewhere == process, "another task saw \(elsewhere) threads while this one ran with \(other); the process setting is \(process)")
        }
        #expect(Compute.threads == process)
    }

    @Test func parallelForUsesTheTaskCount() {
        let chunks = Compute.withThreads(1) { () -> Int in
            var seen = 0
            Compute.parallelFor(1000) { _ in seen += 1 }  // one chunk: runs on this thread
            return seen
        }
        #expect(chunks == 1)
    }
}
