import Foundation
import Tensors
import Sampling
import Transformer

/// Throughput of the forward pass as generation uses it, for `treerpo bench forward`.
/// Peers (onnxruntime, PyTorch) are measured the same way by `tools/bench_forward.py`.
public enum ForwardBenchmark {
    public struct Result: Codable, Sendable {
        /// Prefill of one 256-token sequence (logits of the last token), tokens per second.
        public var prefillTokensPerSecond: Double
        /// Decode tokens per second after a 32-token prompt, 64 new greedy tokens per sequence:
        /// the 63 decode forwards after the first token (whose logits come from the prefill).
        public var decodeBatch1TokensPerSecond: Double
        public var decodeBatch16TokensPerSecond: Double
    }

    /// Deterministic pseudo-random prompt ids (no special meaning; EOS is not a stop token here).
    static func prompt(length: Int, vocab: Int, stream: UInt64) -> [Int] {
        var rng = RandomStream(seed: 1234, stream: stream)
        return (0..<length).map { _ in Int(rng.next() % UInt64(vocab)) }
    }

    /// Seconds of one prefill of `tokens` tokens.
    public static func prefillSeconds(model: TransformerModel, tokens: Int) throws -> Double {
        let cache = KVCache(config: model.config, slots: tokens, blocks: 1)
        let batch = CachedBatch(capacity: tokens)
        let acts = Activations(config: model.config, capacity: tokens, logitCapacity: 1)
        let b = try cache.makeBlock(capacity: tokens)
        for (j, t) in prompt(length: tokens, vocab: model.config.vocabSize, stream: 0).enumerated() {
            try batch.append(token: t, block: b, cache: cache, wantLogits: j == tokens - 1)
        }
        let start = DispatchTime.now().uptimeNanoseconds
        try model.forward(batch, cache: cache, activations: acts)
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// Decode tokens per second for `batch` sequences (32-token prompts, 64 new tokens).
    public static func decodeTokensPerSecond(generator: Generator, batch: Int, promptLength: Int = 32, newTokens: Int = 64) throws -> Double {
        let vocab = generator.model.config.vocabSize
        let prompts = (0..<batch).map { prompt(length: promptLength, vocab: vocab, stream: UInt64($0 + 1)) }
        var firstToken: UInt64? = nil
        _ = try generator.generate(prompts: prompts, options: GenerationOptions(maxNewTokens: newTokens)) { _, _ in
            if firstToken == nil { firstToken = DispatchTime.now().uptimeNanoseconds }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - firstToken!) / 1e9
        return Double(batch * (newTokens - 1)) / seconds
    }

    /// Medians over `rounds` (after one warm-up of each).
    public static func run(model: TransformerModel, rounds: Int) throws -> Result {
        let generator = Generator(model: model)
        _ = try prefillSeconds(model: model, tokens: 256)
        _ = try decodeTokensPerSecond(generator: generator, batch: 16, newTokens: 4)
        var prefill: [Double] = [], d1: [Double] = [], d16: [Double] = []
        for _ in 0..<rounds {
            prefill.append(256 / (try prefillSeconds(model: model, tokens: 256)))
            d1.append(try decodeTokensPerSecond(generator: generator, batch: 1))
            d16.append(try decodeTokensPerSecond(generator: generator, batch: 16))
        }
        func median(_ x: [Double]) -> Double { x.sorted()[x.count / 2] }
        return Result(prefillTokensPerSecond: median(prefill), decodeBatch1TokensPerSecond: median(d1),
                      decodeBatch16TokensPerSecond: median(d16))
    }
}
