import ArgumentParser
import Foundation
import Tensors

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure speed, next to a peer measured in the same run.",
        subcommands: [BenchKernels.self, BenchImport.self]
    )
}

struct BenchKernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "Matrix-product GFLOP/s through treerpo next to OpenBLAS called directly, and kernel throughput."
    )

    @OptionGroup var runtime: RuntimeOptions

    @Option(help: "Timed runs per measurement (medians are reported).")
    var rounds = 7

    @Option(help: "Sequence length for the attention measurement.")
    var tokens = 256

    func validate() throws {
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1, got \(rounds)") }
        guard tokens >= 1 else { throw ValidationError("--tokens must be at least 1, got \(tokens)") }
    }

    func run() throws {
        runtime.apply()
        print("treerpo bench kernels: \(Compute.threads) thread(s), median of \(rounds) alternating runs")
        print("")
        print(Table.render(
            header: ["m x n x k (A B^T)", "treerpo GFLOP/s", "OpenBLAS GFLOP/s", "ratio"],
            rows: KernelBenchmark.gemm(rounds: rounds).map {
                ["\($0.m) x \($0.n) x \($0.k)", Table.number($0.oursGflops), Table.number($0.openblasGflops),
                 String(format: "%.2f", $0.ratio)]
            }))
        print("")
        print(Table.render(
            header: ["kernel", "input", "ms", "rate"],
            rows: try KernelBenchmark.kernels(rounds: rounds, tokens: tokens).map {
                [$0.name, $0.shape, String(format: "%.3f", $0.seconds * 1e3), "\(Table.number($0.rate)) \($0.unit)"]
            }))
    }
}
