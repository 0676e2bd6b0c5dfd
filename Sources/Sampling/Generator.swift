import Foundation
import Tensors
import Transformer

/// A generated token with two log-probabilities:
/// - `logprob`: log softmax of the model's unmodified logits at temperature 1 (what a policy
///   gradient needs: the model's own probability of the token);
/// - `samplingLogprob`: log-probability under the distribution the token was actually drawn
///   from (after temperature, top-k, top-p; 0 for greedy).
public struct GeneratedToken: Equatable, Sendable {
    public var id: Int
    public var logprob: Float
    public var samplingLogprob: Float
}

public struct Generation: Equatable, Sendable {
    public enum Finish: String, Sendable { case stop, length }
    public var tokens: [GeneratedToken]
    public var finish: Finish
}

public struct GenerationOptions: Sendable {
    public var maxNewTokens: Int
    public var sampler: SamplerChain
    public var seed: UInt64
    /// Generation of a sequence ends after any of these (the token is kept).
    public var stopTokens: Set<Int>

    public init(maxNewTokens: Int, sampler: SamplerChain = SamplerChain(greedy: true), seed: UInt64 = 0, stopTokens: Set<Int> = []) {
        self.maxNewTokens = maxNewTokens
        self.sampler = sampler
        self.seed = seed
        self.stopTokens = stopTokens
    }
}

/// Prefill + batched decode until every sequence stops or reaches `maxNewTokens`.
///
/// All prompts are prefilled in one forward (each in its own cache block, sized for prompt +
/// new tokens); then every step decodes one token for every running sequence in one forward.
/// Sequence i samples from `RandomStream(seed: options.seed, stream: streams[i])` (default
/// stream i), so its tokens do not depend on the other sequences of the batch. Buffers grow only
/// at the start of a `generate` call that needs more; the decode loop allocates nothing but the
/// returned token lists (reserved up front).
public final class Generator {
    public let model: TransformerModel
    private var cache: KVCache?
    private var batch: CachedBatch?
    private var activations: Activations?
    private let candidates: Candidates

    public init(model: TransformerModel) {
        self.model = model
        candidates = Candidates(vocab: model.config.vocabSize)
    }

    /// Sizes the buffers for `sequences` of up to `tokensPerSequence` tokens, with a prefill
    /// of up to `prefillTokens`.
    func reserve(sequences: Int, tokensPerSequence: Int, prefillTokens: Int) {
        let rows = max(prefillTokens, sequences), slots = sequences * tokensPerSequence
        if cache == nil || cache!.slotCapacity < slots || cache!.blockCapacity < sequences {
            cache = KVCache(config: model.config, slots: slots, blocks: sequences)
        }
        if batch == nil || batch!.capacity < rows { batch = CachedBatch(capacity: rows) }
        if activations == nil || activations!.capacity < rows {
            activations = Activations(config: model.config, capacity: rows, logitCapacity: rows)
        }
    }

    /// `onToken(sequence, token)` is called as each token is chosen (for streaming).
    public func generate(
        prompts: [[Int]], options: GenerationOptions, streams: [UInt64]? = nil,
        onToken: ((Int, GeneratedToken) -> Void)? = nil
    ) throws -> [Generation] {
        let config = model.config, vocab = config.vocabSize
        guard !prompts.isEmpty else { return [] }
        if let i = prompts.firstIndex(where: \.isEmpty) {
            throw ModelError("prompt \(i) is empty; generation needs at least one prompt token")
        }
        guard options.maxNewTokens >= 1 else { throw ModelError("maxNewTokens must be at least 1, found \(options.maxNewTokens)") }
        let longest = prompts.map(\.count).max()! + options.maxNewTokens
        guard longest <= config.maxPositions else {
            throw ModelError("prompt + new tokens need \(longest) positions; the model has \(config.maxPositions) (max_position_embeddings)")
        }
        if let streams, streams.count != prompts.count {
            throw ModelError("expected one stream per prompt (\(prompts.count)), found \(streams.count)")
        }
        reserve(sequences: prompts.count, tokensPerSequence: longest, prefillTokens: prompts.map(\.count).reduce(0, +))
        let cache = self.cache!, batch = self.batch!, acts = self.activations!
        cache.reset()
        batch.removeAll()

        var rngs = prompts.indices.map { RandomStream(seed: options.seed, stream: streams?[$0] ?? UInt64($0)) }
        var results = prompts.map { _ in Generation(tokens: [], finish: .length) }
        for i in results.indices { results[i].tokens.reserveCapacity(options.maxNewTokens) }
        var blocks: [Int] = []
        for p in prompts {
            let b = try cache.makeBlock(capacity: p.count + options.maxNewTokens)
            blocks.append(b)
            for (j, t) in p.enumerated() { try batch.append(token: t, block: b, cache: cache, wantLogits: j == p.count - 1) }
        }
        // running[row] = the sequence whose logits are in row `row`.
        var running = Array(prompts.indices), next: [Int] = []
        next.reserveCapacity(prompts.count)
        while !running.isEmpty {
            try model.forward(batch, cache: cache, activations: acts)
            if let bad = TransformerModel.firstNonFiniteRow(acts.logits, rows: running.count, vocab: vocab) {
                let s = running[bad]
                throw model.nonFiniteLogitsError(context: prompts[s] + results[s].tokens.map(\.id),
                                                 what: "for sequence \(s) after \(results[s].tokens.count) generated tokens")
            }
            next.removeAll(keepingCapacity: true)
            for (row, s) in running.enumerated() {
                let logits = UnsafePointer(acts.logits + row * vocab)
                let (id, samplingLogprob) = options.sampler.sample(logits, vocab: vocab, rng: &rngs[s], scratch: candidates)
                let token = GeneratedToken(id: id, logprob: modelLogProb(logits, vocab: vocab, id: id), samplingLogprob: samplingLogprob)
                results[s].tokens.append(token)
                onToken?(s, token)
                if options.stopTokens.contains(id) {
                    results[s].finish = .stop
                } else if results[s].tokens.count < options.maxNewTokens {
                    next.append(s)
                }
            }
            batch.removeAll()
            for s in next { try batch.append(token: results[s].tokens.last!.id, block: blocks[s], cache: cache, wantLogits: true) }
            swap(&running, &next)
        }
        return results
    }
}
