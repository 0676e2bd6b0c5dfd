import ArgumentParser
import Distributed
import Foundation

/// The gradient sum of a data-parallel step (docs/mpi.md) under `mpirun`, against the MPI
/// library's own all-reduce on the same buffer.
struct BenchExchange: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exchange",
        abstract: "Under mpirun: seconds of treerpo's rank-ordered gradient sum next to MPI_Allreduce on the same floats.",
        discussion: "Run as `mpirun -np 2 treerpo bench exchange`; the default size is SmolLM2-135M's gradient."
    )

    @OptionGroup var runtime: RuntimeOptions

    @OptionGroup var mpi: MPIOptions

    @Option(help: "Floats summed (default: SmolLM2-135M-Instruct's parameters).")
    var floats = 134_515_008

    @Option(help: "Timed runs of each (medians are reported; alternating).")
    var rounds = 5

    func validate() throws {
        guard floats >= 1 else { throw ValidationError("--floats must be at least 1, got \(floats)") }
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1, got \(rounds)") }
    }

    func run() throws {
        runtime.apply()
        let job = try MPIJob.start(timeoutSeconds: mpi.mpiTimeout)
        guard job.size > 1 else {
            throw RuntimeFailure("bench exchange measures exchanges between ranks: run it under mpirun with -np 2 or more")
        }
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: floats)
        defer { buffer.deallocate() }
        // Rank r's value at i, and the sum in rank order each rank expects back.
        func value(_ r: Int, _ i: Int) -> Float { Float((i &* 2_654_435_761 &+ r &* 40_503) % 1000) * 1e-3 - 0.5 }
        func fill() { for i in 0..<floats { buffer[i] = value(job.rank, i) } }
        var ours: [Double] = [], library: [Double] = []
        for _ in 0..<rounds {
            for useLibrary in [false, true] {
                fill()
                _ = try job.allGather([])  // start together
                let start = DispatchTime.now().uptimeNanoseconds
                if useLibrary {
                    try job.sumWithLibraryAllReduce(buffer, count: floats)
                } else {
                    try job.sumInRankOrder(buffer, count: floats)
                }
                _ = try job.allGather([])
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                if useLibrary { library.append(seconds) } else { ours.append(seconds) }
            }
            // The rank-ordered sum must be exactly ((x0 + x1) + x2) + ...
            fill()
            try job.sumInRankOrder(buffer, count: floats)
            for i in stride(from: 0, to: floats, by: max(1, floats / 4096)) {
                var expected = value(0, i)
                for r in 1..<job.size { expected += value(r, i) }
                guard buffer[i].bitPattern == expected.bitPattern else {
                    throw RuntimeFailure("the rank-ordered sum at \(i) is \(buffer[i]), expected \(expected)")
                }
            }
        }
        guard job.isRoot else { return }
        let bytes = Double(floats * 4)
        // Bus bandwidth: what each rank moves in a bandwidth-optimal all-reduce, per second.
        let busBytes = 2 * Double(job.size - 1) / Double(job.size) * bytes
        let med = { (xs: [Double]) in xs.sorted()[xs.count / 2] }
        print("treerpo bench exchange: \(job.size) ranks, \(floats) floats (\(Table.number(bytes / 1e6)) MB), median of \(rounds) alternating runs")
        print(Table.render(header: ["all-reduce", "seconds", "bus GB/s"], rows: [
            ["treerpo rank-ordered sum", String(format: "%.3f", med(ours)), String(format: "%.2f", busBytes / med(ours) / 1e9)],
            ["MPI_Allreduce (library order)", String(format: "%.3f", med(library)), String(format: "%.2f", busBytes / med(library) / 1e9)],
        ]))
        print(String(format: "ratio MPI_Allreduce / treerpo: %.2f (above 1: the rank-ordered sum is faster)", med(library) / med(ours)))
    }
}
