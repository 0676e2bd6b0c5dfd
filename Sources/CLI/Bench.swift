import Benchmarks
import ArgumentParser
import Foundation
import Sampling
import Tensors
import Transformer

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure speed, next to a peer measured in the same run.",
        subcommands: [BenchKernels.self, BenchForward.self, BenchImport.self, BenchSample.self, BenchTrain.self, BenchExchange.self]
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

    @Flag(help: "Measure the matrix-product table only and print its best OpenBLAS rate (the sgemm peak) as one JSON object.")
    var peakJSON = false

    func validate() throws {
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1, got \(rounds)") }
        guard tokens >= 1 else { throw ValidationError("--tokens must be at least 1, got \(tokens)") }
    }

    func run() throws {
        runtime.apply()
        if peakJSON {
            // For tools/bench_step.py's floating-point bound: the peak of this machine and threads now.
            let peak: [String: Any] = ["threads": Compute.threads, "rounds": rounds, "openblas_core": OpenBLASKernels.current,
                                       "sgemm_peak_gflops": KernelBenchmark.sgemmPeakGflops(rounds: rounds)]
            let data = try JSONSerialization.data(withJSONObject: peak, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print("treerpo bench kernels: \(Compute.threads) thread(s), median of \(rounds) alternating runs")
        print("OpenBLAS kernels: \(OpenBLASKernels.description)")
        print("")
        print(Table.render(
            header: ["m x n x k (A B^T)", "treerpo GFLOP/s", "OpenBLAS GFLOP/s", "ratio"],
            rows: KernelBenchmark.gemm(rounds: rounds).map {
                ["\($0.m) x \($0.n) x \($0.k)", Table.number($0.oursGflops), Table.number($0.openblasGflops),
                 String(format: "%.2f", $0.ratio)]
            }))
        print("")
        print("Few rows of A (decode), W streamed from memory, GFLOP/s: our dot-product and outer-product kernels")
        print("(Gemm.fewRows takes outer at \(Gemm.outerRows.lowerBound)-\(Gemm.outerRows.upperBound) rows, dot at others up to \(Gemm.fewRowsLimit), OpenBLAS above),")
        print("OpenBLAS (sgemv at m = 1, else sgemm); ratio = the kernel fewRows takes over OpenBLAS:")
        print(Table.render(
            header: ["m x n x k (A W^T)", "dot", "outer", "OpenBLAS", "ratio"],
            rows: KernelBenchmark.fewRows(rounds: rounds).map {
                ["\($0.m) x \($0.n) x \($0.k)", $0.dotGflops.map(Table.number) ?? "-",
                 $0.outerGflops.map(Table.number) ?? "-", Table.number($0.openblasGflops), String(format: "%.2f", $0.ratio)]
            }))
        print("")
        print(Table.render(
            header: ["kernel", "input", "ms", "rate"],
            rows: try KernelBenchmark.kernels(rounds: rounds, tokens: tokens).map {
                [$0.name, $0.shape, String(format: "%.3f", $0.seconds * 1e3), "\(Table.number($0.rate)) \($0.unit)"]
            }))
        let g = try PackedGroupAttentionBenchmark.run(rounds: rounds)
        print("")
        print("Attention forward + backward over one GRPO group packed as finetune packs it (a \(g.prompt)-token prompt, then")
        print("\(g.completions) completions of \(g.completionTokens) tokens; q9 kv3 d64), against its peer: each completion alone after")
        print("its own copy of the prompt. Visible pairs per head: packed \(g.packedPairs), alone \(g.separatePairs)")
        print("(every pair left of the packed diagonal: \(g.triangularPairs)).")
        print(String(format: "packed %.3f ms, alone %.3f ms: packed %.2fx the speed of the peer", g.packedSeconds * 1e3,
                     g.separateSeconds * 1e3, g.ratio))
    }
}

struct BenchForward: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Prefill and decode tokens/s of the forward pass (peers: tools/bench_forward.py).",
        discussion: "Prefill: one 256-token sequence. Decode: 32-token prompts, 64 new greedy tokens, batch 1 and 16."
    )

    @Option(help: "Hugging Face model folder (config.json, model.safetensors).")
    var model: String

    @OptionGroup var runtime: RuntimeOptions

    @Option(help: "Timed runs per measurement (medians are reported).")
    var rounds = 3

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1, got \(rounds)") }
    }

    func run() throws {
        runtime.apply()
        let m = try TransformerModel(folder: URL(fileURLWithPath: model))
        let r = try ForwardBenchmark.run(model: m, rounds: rounds)
        if json {
            let data = try JSONEncoder().encode(r)
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print("treerpo bench forward: \(model), \(Compute.threads) thread(s), median of \(rounds)")
        print(Table.render(
            header: ["measurement", "tokens/s"],
            rows: [["prefill 1 x 256", Table.number(r.prefillTokensPerSecond)],
                   ["decode batch 1", Table.number(r.decodeBatch1TokensPerSecond)],
                   ["decode batch 16", Table.number(r.decodeBatch16TokensPerSecond)]]))
    }
}
