import Foundation
import Testing
@testable import TreeRPO

/// The memory figures of `treerpo bench train`: the peak is the kernel's `VmHWM`.
@Suite struct ResidentMemoryTests {
    /// Lines as Linux 6.18 writes them in /proc/PID/status (a tab, then padding spaces).
    @Test func parsesStatusFields() {
        let text = "Name:\ttreerpo\nVmPeak:\t 2563680 kB\nVmHWM:\t   74836 kB\nVmRSS:\t   74836 kB\nThreads:\t2\n"
        #expect(TrainBenchmark.statusKilobytes("VmHWM", in: text) == 74836)
        #expect(TrainBenchmark.statusKilobytes("VmRSS", in: text) == 74836)
        #expect(TrainBenchmark.statusKilobytes("VmSwap", in: text) == nil)
        #expect(TrainBenchmark.statusKilobytes("Name", in: text) == nil)
    }

    /// Touching 64 MiB raises the peak by about that much, and the peak is never below the
    /// current resident set nor above getrusage's high-water mark (which also counts the
    /// address space this process's exec replaced).
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/self/status")))
    func peakFollowsTouchedPages() throws {
        let bytes = 64 << 20
        let before = TrainBenchmark.peakResidentBytes()
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 4096)
        defer { buffer.deallocate() }
        for offset in stride(from: 0, to: bytes, by: 4096) { buffer.storeBytes(of: 1, toByteOffset: offset, as: UInt8.self) }
        let current = TrainBenchmark.currentResidentBytes()
        let peak = TrainBenchmark.peakResidentBytes()
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        #expect(current > bytes)
        #expect(peak >= current)
        #expect(peak <= Int(usage.ru_maxrss) * 1024)
        // The test process may already have peaked higher; then only part of the buffer shows.
        #expect(peak >= min(before + bytes * 9 / 10, current))
    }
}
