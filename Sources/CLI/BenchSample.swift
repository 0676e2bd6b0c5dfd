import Benchmarks
import ArgumentParser
import Foundation
import Sampling
import Tensors
import Transformer

/// `treerpo bench sample`: tree sampling next to flat sampling of as many complete answers.
struct BenchSample: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Tree sampling vs flat sampling of the same number of answers: tokens/s, wall time, tokens computed.",
        discussion: """
        Random prompts; no stop token, so every answer runs to --max-response-tokens on both sides. \
        Flat: the Generator over each prompt repeated once per tree leaf, same sampler and seed. \
        Make a random model with: .venv-tools/bin/python tools/bench_forward.py --make-models DIR
        """
    )

    @Option(help: "Hugging Face model folder (config.json, model.safetensors).")
    var model = "treerpo-workspace/base"

    @Option(help: "Prompts (one tree each) sampled together.")
    var prompts = 4

    @Option(name: .customLong("prompt-tokens"), help: "Tokens per prompt.")
    var promptTokens = 32

    @OptionGroup var tree: TreeOptions

    @Option(help: "Random seed.")
    var seed: UInt64 = 0

    @Option(help: "Alternating timed runs of each side (medians are reported).")
    var rounds = 3

    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1, got \(rounds)") }
        guard prompts >= 1 else { throw ValidationError("--prompts must be at least 1, got \(prompts)") }
        guard promptTokens >= 1 else { throw ValidationError("--prompt-tokens must be at least 1, got \(promptTokens)") }
    }

    func run() throws {
        runtime.apply()
        let m = try TransformerModel(folder: URL(fileURLWithPath: model))
        let options = try tree.samplingOptions(seed: seed, newlineTokens: [], stopTokens: [])
        print("treerpo bench sample: \(model), \(Compute.threads) thread(s), \(prompts) prompts x \(promptTokens) tokens, "
              + "depth \(options.depth), branching \(options.branching.map(String.init).joined(separator: ",")), "
              + "step \(options.stepTokens), budget \(options.maxResponseTokens), temperature \(tree.temperature); "
              + "median of \(rounds) alternating runs")
        let r = try TreeSamplingBenchmark.run(model: m, prompts: prompts, promptLength: promptTokens, options: options,
                                              rounds: rounds, memoryLimitBytes: try tree.memoryLimitBytes())
        func row(_ name: String, _ s: TreeSamplingBenchmark.Side) -> [String] {
            [name, "\(s.leaves)", String(format: "%.2f", s.medianSeconds), String(format: "%.2f", s.medianDecodeSeconds),
             "\(s.sampledTokens)", Table.number(s.sampledTokensPerSecond), Table.number(s.decodeTokensPerSecond),
             "\(s.computedTokens)", Table.number(s.computedTokensPerSecond)]
        }
        print(Table.render(
            header: ["sampling", "answers", "median s", "decode s", "drawn tokens", "drawn tok/s", "decode tok/s", "computed tokens", "computed tok/s"],
            rows: [row("tree", r.tree), row("flat", r.flat)]))
        let s = r.treeStats
        print(String(format: "per-token throughput, tree / flat (drawn tokens/s): decode only %.2fx (goal >= 0.9), end to end %.2fx "
                     + "(flat's prefill recomputes each prompt per answer); wall time, flat / tree: %.2fx",
                     r.decodeRatio, r.perTokenRatio, r.wallRatio))
        print(String(format: "as many forwards on both sides, the tree's first levels with fewer rows: %.2fx if a forward cost the same whatever its rows, 1x if in proportion to them",
                     r.equalForwardBound))
        print(String(format: "tree computed %d tokens of %d root-to-leaf path tokens: %.1f%% saved by prefix sharing",
                     s.computedTokens, s.leafPathTokens, 100 * s.shareSaved))
        print("no recomputation: computed \(s.computedTokens) == prompts \(s.promptTokens) + step tokens \(s.sampledTokens) - leaves \(s.leaves) "
              + "(each leaf's last token is never fed): \(s.computesEachTokenOnce ? "yes" : "NO")")
        print(String(format: "tree (last run): decode %.2f s, of which forwards %.2f s and the sampler's own loop (draws, log-probs, bookkeeping, batch) %.2f s",
                     s.wallSeconds - s.prefillSeconds, s.decodeForwardSeconds, s.wallSeconds - s.prefillSeconds - s.decodeForwardSeconds))
        // The roofline of each batch width, from this process's own sgemm peak and memory bandwidth.
        let peak = KernelBenchmark.sgemmPeakGflops(rounds: 3)
        let bandwidth = KernelBenchmark.memoryReadGBps()
        let roofline = DecodeRoofline.rows(s.decodeForwards, config: m.config, peakGflops: peak, bandwidthGBps: bandwidth)
        print(String(format: "tree decode forwards (last run) against the roofline of their width: sgemm peak %.1f GFLOP/s, memory read %.1f GB/s (both measured now, \(Compute.threads) thread(s))", peak, bandwidth))
        print(Table.render(
            header: ["rows per forward", "forwards", "rows/s", "compute bound", "bandwidth bound", "share of roofline"],
            rows: roofline.map { row in
                ["\(row.rows.lowerBound)-\(row.rows.upperBound)", "\(row.forwards)", Table.number(row.measured), Table.number(row.computeBound),
                 Table.number(row.bandwidthBound), String(format: "%.0f%%", 100 * row.shareOfRoofline)]
            }))
        print("tree KV cache: \(s.kvSlotsUsed) slots used of \(s.plan?.kvSlots ?? 0) planned (\(MemoryPlan.format(s.plan?.kvBytes ?? 0)) worst case); "
              + "\(s.forwards) forwards, widest \(s.widestForward) rows")
    }
}
