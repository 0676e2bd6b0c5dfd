import ArgumentParser
import Foundation
import Benchmarks
import TreeRPO

/// `treerpo bench import`: parses the options and prints what `ImportBenchmark` measures.
struct BenchImport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import wall time and peak memory next to Python: onnx.load + numpy float32 for ONNX, transformers from_pretrained(gguf_file=) for GGUF.",
        discussion: "Make an ONNX model with: .venv-tools/bin/python tools/make_import_bench_model.py"
    )

    @Option(help: "The .onnx or .gguf model to import.")
    var model: String

    @Option(help: "Alternating rounds (medians are reported).")
    var rounds = 3

    @Option(help: "Python with onnx and numpy (ONNX) or torch and transformers (GGUF) for the peer measurement.")
    var python = ".venv-tools/bin/python"

    @Option(help: "The peer script. Default: tools/bench_import_gguf.py for a .gguf model, else tools/bench_import.py.")
    var script: String?

    /// What the benchmark will run, from the options.
    var benchmark: ImportBenchmark {
        ImportBenchmark(model: model, rounds: rounds, python: python, script: script,
                        executable: (try? ImportBenchmark.currentExecutable()) ?? CommandLine.arguments[0])
    }
    var isGGUF: Bool { benchmark.isGGUF }
    var peerLabel: String { benchmark.peerLabel }

    /// Internal: run one in-memory import (no workspace written) and exit.
    @Flag(help: .hidden)
    var childLoadOnly = false

    func validate() throws {
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1, got \(rounds)") }
    }

    func run() throws {
        if childLoadOnly {
            print(try ImportBenchmark.loadOnly(model: URL(fileURLWithPath: model)))
            return
        }
        var bench = benchmark
        bench.executable = try ImportBenchmark.currentExecutable()
        print("treerpo bench import: \(model), \(rounds) alternating rounds, each run a fresh process")
        let result = try bench.run { m in
            print("  round \(m.round)  " + m.name.padding(toLength: 44, withPad: " ", startingAt: 0)
                  + String(format: "%7.2f s  %7.0f MB", m.seconds, Double(m.maxRSSBytes) / 1e6))
        }
        let weightBytes = result.weightBytes
        let pythonTime = result.medianSeconds(result.pythonVariant)
        print("")
        print(Table.render(
            header: ["variant", "median s", "peak MB", "peak / fp32 weights", "python time / ours"],
            rows: result.variants.indices.map { i in
                [result.variants[i].name, String(format: "%.2f", result.medianSeconds(i)), String(format: "%.0f", result.medianPeakBytes(i) / 1e6),
                 String(format: "%.2fx", result.medianPeakBytes(i) / weightBytes), String(format: "%.2f", pythonTime / result.medianSeconds(i))]
            }))
        print(String(format: "\nfp32 weights: %.0f MB (%d parameters); python peak / ours (in memory): %.2f",
                     weightBytes / 1e6, Int(weightBytes / 4),
                     result.medianPeakBytes(result.pythonVariant) / result.medianPeakBytes(result.inMemoryVariant)))
    }
}
