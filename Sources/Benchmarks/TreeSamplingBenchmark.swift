import Foundation
import Sampling
import Transformer

/// Tree sampling next to flat sampling of the same number of complete answers, for
/// `treerpo bench sample`: each prompt's tree against `Generator` over the prompt repeated once
/// per leaf, with the same sampler, seed and response budget. No stop token is used, so every
/// answer runs to the budget and both sides produce the same number of leaves of the same
/// length whatever the (random) model draws. Runs alternate; medians are reported.
///
/// Two rates per side. End to end: drawn tokens over the whole call. Decode only: drawn tokens
/// over the time after the first forward (the prompts' prefill). The flat side's prefill
/// computes each prompt once per answer (8 times for trees of 8 leaves), the tree's once per
/// tree, so the end-to-end rate credits the tree with prompt sharing; the decode-only rate
/// compares the decoding loops alone (every token on both sides is drawn after the prefill) and
/// is the stricter measure of the goal.
///
/// Both sides run as many forwards (one per token of the budget), but the tree's first levels
/// hold fewer rows (8, 16, then 32 for 4 binary trees of depth 3): were every forward's cost
/// independent of its rows, the tree's rate would be its drawn tokens over flat's
/// (`equalForwardBound`, 0.84 for L = 32, budget 256); were it proportional, 1.
public enum TreeSamplingBenchmark {
    public struct Side: Sendable {
        public var wallSeconds: [Double] = []
        /// Per run: seconds after the first forward (the prompts' prefill).
        public var decodeSeconds: [Double] = []
        /// Tokens drawn per run (the tree's step tokens; the flat answers' tokens).
        public var sampledTokens = 0
        /// Forward rows per run: prompt tokens plus every drawn token that was fed back.
        public var computedTokens = 0
        public var leaves = 0
        public var medianSeconds: Double { wallSeconds.sorted()[wallSeconds.count / 2] }
        public var medianDecodeSeconds: Double { decodeSeconds.sorted()[decodeSeconds.count / 2] }
        public var sampledTokensPerSecond: Double { Double(sampledTokens) / medianSeconds }
        public var decodeTokensPerSecond: Double { Double(sampledTokens) / medianDecodeSeconds }
        public var computedTokensPerSecond: Double { Double(computedTokens) / medianSeconds }
    }

    public struct Result: Sendable {
        public var tree = Side(), flat = Side()
        public var treeStats = TreeSamplingStats()
        /// Tree drawn tokens/s over flat drawn tokens/s, end to end.
        public var perTokenRatio: Double { tree.sampledTokensPerSecond / flat.sampledTokensPerSecond }
        /// The same over the decode phase only (the goal: >= 0.9).
        public var decodeRatio: Double { tree.decodeTokensPerSecond / flat.decodeTokensPerSecond }
        public var wallRatio: Double { flat.medianSeconds / tree.medianSeconds }
        /// The per-token ratio if every forward cost the same whatever its rows.
        public var equalForwardBound: Double { Double(tree.sampledTokens) / Double(flat.sampledTokens) }
    }

    public static func run(model: TransformerModel, prompts: Int, promptLength: Int, options: TreeSamplingOptions,
                           rounds: Int, memoryLimitBytes: Int? = nil) throws -> Result {
        var options = options
        options.stopTokens = []
        let vocab = model.config.vocabSize
        let promptIds = (0..<prompts).map { ForwardBenchmark.prompt(length: promptLength, vocab: vocab, stream: UInt64($0 + 1)) }
        let treeSampler = TreeSampler(model: model), generator = Generator(model: model)
        var result = Result()

        func runTree() throws -> (seconds: Double, decode: Double) {
            let start = DispatchTime.now().uptimeNanoseconds
            let trees = try treeSampler.sample(prompts: promptIds, options: options, memoryLimitBytes: memoryLimitBytes)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let s = treeSampler.lastStats
            result.treeStats = s
            result.tree.sampledTokens = s.sampledTokens
            result.tree.computedTokens = s.computedTokens
            result.tree.leaves = trees.reduce(0) { $0 + $1.leaves.count }
            return (seconds, s.wallSeconds - s.prefillSeconds)
        }
        func runFlat(answersPerPrompt: Int) throws -> (seconds: Double, decode: Double) {
            let repeated = promptIds.flatMap { Array(repeating: $0, count: answersPerPrompt) }
            let flatOptions = GenerationOptions(maxNewTokens: options.maxResponseTokens, sampler: options.sampler, seed: options.seed)
            // The first token is chosen right after the prefill forward (and one row's draw).
            var firstToken: UInt64 = 0
            let start = DispatchTime.now().uptimeNanoseconds
            let answers = try generator.generate(prompts: repeated, options: flatOptions) { _, _ in
                if firstToken == 0 { firstToken = DispatchTime.now().uptimeNanoseconds }
            }
            let end = DispatchTime.now().uptimeNanoseconds
            let seconds = Double(end - start) / 1e9
            result.flat.sampledTokens = answers.reduce(0) { $0 + $1.tokens.count }
            result.flat.computedTokens = repeated.reduce(0) { $0 + $1.count } + result.flat.sampledTokens - answers.count
            result.flat.leaves = answers.count
            return (seconds, Double(end - firstToken) / 1e9)
        }

        // Warm-up of each (buffers sized, pages touched); the tree run fixes the leaf count.
        _ = try runTree()
        let perPrompt = max(1, result.tree.leaves / max(1, prompts))
        _ = try runFlat(answersPerPrompt: perPrompt)
        for _ in 0..<rounds {
            let t = try runTree()
            result.tree.wallSeconds.append(t.seconds)
            result.tree.decodeSeconds.append(t.decode)
            let f = try runFlat(answersPerPrompt: perPrompt)
            result.flat.wallSeconds.append(f.seconds)
            result.flat.decodeSeconds.append(f.decode)
        }
        return result
    }
}
