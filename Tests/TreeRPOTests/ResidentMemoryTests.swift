import Foundation
import Testing
@testable import Benchmarks
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

    /// While 64 MiB of touched pages are held, the peak covers them. (Only bounds that other
    /// tests running in parallel cannot break: they can raise the peak or the resident set at
    /// any moment, and the kernel updates getrusage's high-water mark lazily, so neither an upper
    /// bound nor a comparison with an earlier reading holds.)
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/self/status")))
    func peakCoversHeldPages() throws {
        let bytes = 64 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 4096)
        defer { buffer.deallocate() }
        for offset in stride(from: 0, to: bytes, by: 4096) { buffer.storeBytes(of: 1, toByteOffset: offset, as: UInt8.self) }
        #expect(TrainBenchmark.currentResidentBytes() > bytes)
        #expect(TrainBenchmark.peakResidentBytes() > bytes)
    }
}
