import Benchmarks
import ArgumentParser
import Foundation
import Tensors
import Transformer
import TreeRPO

/// `treerpo bench train`: tokens/s of forward + policy loss + backward + AdamW. The peer
/// (PyTorch eager, same model and shape) and the alternation live in tools/bench_train.py.
struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Training-step tokens/s and peak memory (peer: tools/bench_train.py, PyTorch eager).",
        discussion: "Without --model: a random model of --shape (tiny: Qwen2, about 1.7M parameters; smollm2: the SmolLM2-135M shape, 49,152 x 576 head)."
    )

    @Option(help: "Hugging Face model folder (config.json, model.safetensors).")
    var model: String?

    @Option(help: "Shape of the random model when there is no --model: tiny or smollm2.")
    var shape = "tiny"

    @Option(help: "Share of each sequence's rows whose next token carries no loss (a prompt's), in [0, 1).")
    var promptShare = 0.0

    @Flag(help: "Compute logits for every row, as before issue 18 (default: only the rows with loss).")
    var allLogitRows = false

    @Option(help: "Sequences per step.")
    var batch = 8

    @Option(help: "Tokens per sequence.")
    var tokens = 256

    @Option(help: "Timed steps after one warm-up step (the median is reported).")
    var steps = 3

    @Option(help: "sequences (one forward/backward per sequence, gradients accumulated) or packed (one block-diagonal sequence).")
    var layout: String = "sequences"

    @OptionGroup var runtime: RuntimeOptions

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
        guard tokens >= 2 else { throw ValidationError("--tokens must be at least 2, got \(tokens)") }
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1, got \(steps)") }
        guard ["tiny", "smollm2"].contains(shape) else { throw ValidationError("--shape must be tiny or smollm2, got \(shape)") }
        guard promptShare >= 0, promptShare < 1 else { throw ValidationError("--prompt-share must be in [0, 1), got \(promptShare)") }
        guard TrainBenchmark.Layout(rawValue: layout) != nil else {
            throw ValidationError("--layout must be sequences or packed, got \(layout)")
        }
    }

    func run() throws {
        runtime.apply()
        let before = TrainBenchmark.currentResidentBytes()
        let m = try model.map { try TransformerModel(folder: URL(fileURLWithPath: $0)) }
            ?? TrainBenchmark.randomModel(config: shape == "smollm2" ? TrainBenchmark.smolLM2Config() : TrainBenchmark.tinyConfig())
        var r = try TrainBenchmark.run(model: m, batch: batch, tokens: tokens, steps: steps,
                                       layout: TrainBenchmark.Layout(rawValue: layout)!, promptShare: promptShare,
                                       allLogitRows: allLogitRows, residentBeforeModel: before)
        // The ceiling, in this process at these threads: OpenBLAS's best rate over bench kernels' sizes.
        r.sgemmPeakGflops = KernelBenchmark.sgemmPeakGflops(rounds: 5)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            print(String(decoding: try encoder.encode(r), as: UTF8.self))
            return
        }
        let mib = { (b: Int) in String(format: "%.1f MiB", Double(b) / 1_048_576) }
        let accounted = r.accountedBytes.values.reduce(0, +)
        print("treerpo bench train: \(model ?? (shape == "smollm2" ? "random SmolLM2-135M shape" : "random tiny Qwen2")), \(r.parameters) parameters, batch \(batch) x \(tokens) (\(layout)), \(r.threads) thread(s), median of \(steps)")
        print("prompt share \(promptShare): logits for \(r.logitRowsPerStep) of \(batch * tokens) rows per step\(allLogitRows ? " (--all-logit-rows)" : "")")
        print(Table.render(
            header: ["measurement", "value"],
            rows: [["tokens/s", Table.number(r.tokensPerSecond)],
                   ["GFLOP/s (matrix products, from the shapes)", String(format: "%.1f", r.gflopsPerSecond)],
                   ["sgemm peak GFLOP/s (bench kernels, this process)", String(format: "%.1f", r.sgemmPeakGflops ?? 0)],
                   ["share of the sgemm peak", String(format: "%.0f%%", 100 * r.gflopsPerSecond / (r.sgemmPeakGflops ?? .infinity))]]
                + ["forward", "loss", "backward", "adamw"].map { ["\($0) s", String(format: "%.3f", r.phaseSeconds[$0] ?? 0)] }
                + [["peak resident", mib(r.peakResidentBytes)],
                   ["resident before the model", mib(r.residentBeforeModelBytes)],
                   ["params+grads+moments+activations", mib(accounted)],
                   ["peak / accounted", String(format: "%.2f", Double(r.peakResidentBytes) / Double(accounted))],
                   ["(peak - before) / accounted",
                    String(format: "%.2f", Double(r.peakResidentBytes - r.residentBeforeModelBytes) / Double(accounted))]]))
        let tree = TrainBenchmark.treeTokens(prompt: 64, branching: [4, 2, 2], stepTokens: 32)
        print("a tree of a 64-token prompt, branching 4,2,2, 32-token steps: \(tree.packed) tokens packed, \(tree.expanded) path-expanded (\(String(format: "%.2f", Double(tree.expanded) / Double(tree.packed)))x)")
    }
}
