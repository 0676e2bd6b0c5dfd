import ArgumentParser
import Foundation
import Benchmarks
import TreeRPO

/// `treerpo bench import`: parses the options and prints what `ImportBenchmark` measures.
struct BenchImport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "ONNX import wall time and peak memory next to onnx.load + numpy float32 conversion in Python.",
        discussion: "Make a model with: .venv-tools/bin/python tools/make_import_bench_model.py"
    )

    @Option(help: "The .onnx model to import.")
    var model: String

    @Option(help: "Alternating rounds (medians are reported).")
    var rounds = 3

    @Option(help: "Python with onnx and numpy for the peer measurement.")
    var python = ".venv-tools/bin/python"

    @Option(help: "tools/bench_import.py (the peer).")
    var script = "tools/bench_import.py"

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
        let bench = ImportBenchmark(model: model, rounds: rounds, python: python, script: script,
                                    executable: try ImportBenchmark.currentExecutable())
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
