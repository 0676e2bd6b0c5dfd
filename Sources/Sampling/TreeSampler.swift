import Foundation
import Tensors
import Transformer

/// Samples one rollout tree per prompt (docs/method.md "Tree sampling"), all trees together.
///
/// Cache layout: each prompt is a root block; each node's step lives in its own block whose
/// parent is its parent node's block, so a branch's context is the chain of its ancestors'
/// blocks and nothing is copied or computed twice. Every forward runs one row per open branch
/// of every tree (linear layers are one GEMM over all of them): the row feeds the branch's last
/// sampled token and yields the logits of its next one. When a node's step ends at its
/// boundary, its last token is still fed, and its children all draw their first token from
/// that one row of logits before each continues in its own block. A leaf's last token (EOS,
/// budget, depth cut) is never fed: nothing needs its logits. Hence per call
/// `computedTokens == promptTokens + sampledTokens - leaves` (see `TreeSamplingStats`).
///
/// Random streams (`RandomStream`, SplitMix64): tree i has the stream id s = `streams?[i] ?? i`.
/// The root's child j draws from `RandomStream(seed: options.seed, stream: s * N_1 + j)`, the
/// stream `Generator` gives sequence s * N_1 + j: a D = 1 tree batch is exactly `Generator` over
/// each prompt repeated N_1 times. A deeper node's children take `split()`s of the node's own
/// stream, in child order, after the node's last draw. A tree thus depends on (seed, s) only,
/// never on the other trees of the batch.
///
/// Buffers are sized from `memoryPlan` at the start of a call that needs more than the last one
/// and reused; the decode loop allocates only each new node's token lists, once, at the size of
/// its cache block.
public final class TreeSampler {
    public let model: TransformerModel
    /// What the last `sample` call did.
    public internal(set) var lastStats = TreeSamplingStats()
    private var cache: KVCache?
    private var batch: CachedBatch?
    private var activations: Activations?
    private let candidates: Candidates
    /// The samplers of `sampleInShards`, one per shard, kept so their buffers are reused.
    var shardSamplers: [TreeSampler] = []

    public init(model: TransformerModel) {
        self.model = model
        candidates = Candidates(vocab: model.config.vocabSize)
    }

    /// An open branch: the node whose step is being sampled, or (expanding) whose step has
    /// ended and whose children fork from the logits of its last token.
    struct Branch {
        var tree: Int
        var node: Int
        var block: Int
        var rng: RandomStream
        /// The last sampled token, fed in the next forward.
        var token: Int
        var stepCount: Int
        /// Response tokens from the root to this node's last token.
        var pathCount: Int
        var depth: Int
        var expands: Bool
    }

    /// One tree per prompt. `memoryLimitBytes` (default `SystemMemory.defaultLimitBytes()`)
    /// bounds `memoryPlan(...).totalBytes`; a request over it is refused before allocating.
    /// `workers` > 1 splits the prompts into that many contiguous shards sampled at once, each on
    /// one thread with buffers of its own (`sampleInShards`).
    public func sample(
        prompts: [[Int]], options: TreeSamplingOptions, streams: [UInt64]? = nil, memoryLimitBytes: Int? = nil,
        workers: Int = 1
    ) throws -> [RolloutTree] {
        try checkRequest(prompts: prompts, options: options, streams: streams)
        guard !prompts.isEmpty else { lastStats = TreeSamplingStats(); return [] }
        if min(workers, prompts.count) > 1 {
            return try sampleInShards(prompts: prompts, options: options, streams: streams,
                                      memoryLimitBytes: memoryLimitBytes, workers: min(workers, prompts.count))
        }
        return try sampleBatch(prompts: prompts, options: options, streams: streams, memoryLimitBytes: memoryLimitBytes)
    }

    /// Throws unless the options are valid, every prompt holds at least one token id of the
    /// vocabulary, prompt + response fit the model's positions, and there is one stream per prompt.
    func checkRequest(prompts: [[Int]], options: TreeSamplingOptions, streams: [UInt64]?) throws {
        let config = model.config, vocab = config.vocabSize
        try options.validate()
        guard !prompts.isEmpty else { return }
        if let i = prompts.firstIndex(where: \.isEmpty) {
            throw TreeSamplingError("prompt \(i) is empty; a tree needs at least one prompt token")
        }
        if let i = prompts.firstIndex(where: { $0.contains { $0 < 0 || $0 >= vocab } }) {
            throw TreeSamplingError("prompt \(i) holds a token id outside the vocabulary (\(vocab) ids)")
        }
        let longest = prompts.map(\.count).max()! + options.maxResponseTokens
        guard longest <= config.maxPositions else {
            throw TreeSamplingError("prompt + maxResponseTokens need \(longest) positions; the model has \(config.maxPositions) (max_position_embeddings)")
        }
        if let streams, streams.count != prompts.count {
            throw TreeSamplingError("expected one stream per prompt (\(prompts.count)), found \(streams.count)")
        }
    }

    /// All trees of `prompts` in one batch (the request already checked). `firstPrompt`: the
    /// index of `prompts[0]` in the caller's list, for error messages.
    func sampleBatch(
        prompts: [[Int]], options: TreeSamplingOptions, streams: [UInt64]?, memoryLimitBytes: Int?, firstPrompt: Int = 0
    ) throws -> [RolloutTree] {
        let start = DispatchTime.now().uptimeNanoseconds
        let config = model.config, vocab = config.vocabSize
        let plan = Self.memoryPlan(config: config, promptLengths: prompts.map(\.count), options: options)
        try plan.check(limitBytes: memoryLimitBytes ?? SystemMemory.defaultLimitBytes())
        reserve(plan)
        let cache = self.cache!, batch = self.batch!, acts = self.activations!
        cache.reset()
        batch.removeAll()

        var trees = prompts.map { RolloutTree(promptTokens: $0) }
        var stats = TreeSamplingStats(trees: prompts.count, promptTokens: prompts.reduce(0) { $0 + $1.count })
        // rows[r] owns row r of the logits; prefill: each root, expanding from its last prompt token.
        var rows: [Branch] = [], next: [Branch] = []
        rows.reserveCapacity(plan.logitRows)
        next.reserveCapacity(plan.logitRows)
        for (i, p) in prompts.enumerated() {
            let b = try cache.makeBlock(capacity: p.count)
            for (j, t) in p.enumerated() { try batch.append(token: t, block: b, cache: cache, wantLogits: j == p.count - 1) }
            rows.append(Branch(tree: i, node: RolloutTree.root, block: b, rng: RandomStream(seed: 0), token: -1,
                               stepCount: 0, pathCount: 0, depth: 0, expands: true))
        }

        /// Draws the next token of `b` from `logits`, records it, and keeps the branch open
        /// (in `next`) unless its node is now a leaf.
        func advance(_ b: inout Branch, _ logits: UnsafePointer<Float>) {
            let (id, _) = options.sampler.sample(logits, vocab: vocab, rng: &b.rng, scratch: candidates)
            trees[b.tree].append(token: id, logProb: modelLogProb(logits, vocab: vocab, id: id), to: b.node)
            b.stepCount += 1
            b.pathCount += 1
            stats.sampledTokens += 1
            let finish: FinishReason?
            if options.stopTokens.contains(id) {
                finish = .eos
            } else if b.pathCount >= options.maxResponseTokens {
                finish = .budget
            } else if options.stepEnds(count: b.stepCount, token: id) && !(b.depth == options.depth && options.lastLevelRunsToEnd) {
                finish = b.depth < options.depth ? .stepLength : .depth
            } else {
                finish = nil
            }
            if let finish { trees[b.tree].setFinishReason(finish, of: b.node) }
            if finish == nil || finish == .stepLength {
                b.token = id
                b.expands = finish == .stepLength
                next.append(b)
            } else {
                stats.leaves += 1
                stats.leafPathTokens += prompts[b.tree].count + b.pathCount
            }
        }

        while !rows.isEmpty {
            let forwardStart = DispatchTime.now().uptimeNanoseconds
            try model.forward(batch, cache: cache, activations: acts)
            if let bad = TransformerModel.firstNonFiniteRow(acts.logits, rows: rows.count, vocab: vocab) {
                let tree = rows[bad].tree
                throw model.nonFiniteLogitsError(context: prompts[tree], what: "while sampling the tree of prompt \(firstPrompt + tree)")
            }
            let forwardEnd = DispatchTime.now().uptimeNanoseconds
            if stats.forwards == 0 {
                stats.prefillSeconds = Double(forwardEnd - start) / 1e9
            } else {
                let seconds = Double(forwardEnd - forwardStart) / 1e9
                stats.decodeForwardSeconds += seconds
                // Each row attends to its own position and every one before it on its path.
                var pairs = 0
                for r in 0..<batch.count { pairs += Int(batch.positions[r]) + 1 }
                stats.decodeForwards.append(DecodeForward(rows: batch.count, attentionPairs: pairs, seconds: seconds))
            }
            stats.forwards += 1
            stats.computedTokens += batch.count
            stats.widestForward = max(stats.widestForward, batch.count)
            next.removeAll(keepingCapacity: true)
            for r in rows.indices {
                let logits = UnsafePointer(acts.logits + r * vocab)
                var parent = rows[r]
                guard parent.expands else {
                    advance(&parent, logits)
                    continue
                }
                let n = options.branching[parent.depth]
                for j in 0..<n {
                    let rng = parent.depth == 0
                        ? RandomStream(seed: options.seed, stream: (streams?[parent.tree] ?? UInt64(parent.tree)) &* UInt64(n) &+ UInt64(j))
                        : parent.rng.split()
                    let capacity = options.blockCapacity(depth: parent.depth + 1, pathBefore: parent.pathCount)
                    let node = trees[parent.tree].addChild(of: parent.node)
                    trees[parent.tree].reserveStep(capacity, for: node)
                    let block = try cache.makeBlock(parent: parent.block, capacity: capacity)
                    var child = Branch(tree: parent.tree, node: node, block: block, rng: rng, token: -1, stepCount: 0,
                                       pathCount: parent.pathCount, depth: parent.depth + 1, expands: false)
                    advance(&child, logits)
                }
            }
            batch.removeAll()
            for b in next { try batch.append(token: b.token, block: b.block, cache: cache, wantLogits: true) }
            swap(&rows, &next)
        }
        stats.kvSlotsUsed = cache.usedSlots
        stats.plan = plan
        stats.wallSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        lastStats = stats
        return trees
    }

    /// Grows the buffers to the plan when the ones held are smaller.
    func reserve(_ plan: MemoryPlan) {
        if cache == nil || cache!.slotCapacity < plan.kvSlots || cache!.blockCapacity < plan.blocks {
            cache = nil
            cache = KVCache(config: model.config, slots: plan.kvSlots, blocks: plan.blocks)
        }
        if batch == nil || batch!.capacity < plan.forwardRows { batch = CachedBatch(capacity: plan.forwardRows) }
        if activations == nil || activations!.capacity < plan.forwardRows || activations!.logitCapacity < plan.logitRows {
            activations = nil
            activations = Activations(config: model.config, capacity: plan.forwardRows, logitCapacity: plan.logitRows)
        }
    }
}

/// What one `TreeSampler.sample` call did, for metrics and the benchmark.
public struct TreeSamplingStats: Sendable, Equatable {
    public var trees = 0
    public var promptTokens = 0
    /// Tokens drawn: the trees' step tokens.
    public var sampledTokens = 0
    public var leaves = 0
    /// Rows of all forwards: the tokens whose K/V and logits were computed.
    public var computedTokens = 0
    public var forwards = 0
    /// Most rows of one forward.
    public var widestForward = 0
    /// Prompt plus response tokens summed over every root-to-leaf path: what sampling each leaf
    /// as its own sequence would hold.
    public var leafPathTokens = 0
    public var kvSlotsUsed = 0
    public var plan: MemoryPlan?
    public var wallSeconds = 0.0
    /// Seconds from the call's start to the end of its first forward (checks, buffers, the
    /// prompts' prefill); the rest of `wallSeconds` is decoding: every token is drawn after it.
    public var prefillSeconds = 0.0
    /// Seconds inside the forwards after the first; the rest of the decode time is the sampler's
    /// own: draws, log-probabilities, tree bookkeeping, batch assembly.
    public var decodeForwardSeconds = 0.0
    /// Every forward after the first: its rows, visible (query, key) pairs and seconds, for the
    /// benchmark's roofline by batch width.
    public var decodeForwards: [DecodeForward] = []

    public init(trees: Int = 0, promptTokens: Int = 0) {
        self.trees = trees
        self.promptTokens = promptTokens
    }

    /// Every token computed once: the prompts and every sampled token except each leaf's last,
    /// which is never fed back.
    public var computesEachTokenOnce: Bool { computedTokens == promptTokens + sampledTokens - leaves }

    /// Share of the root-to-leaf path tokens that prefix sharing did not compute.
    public var shareSaved: Double { leafPathTokens == 0 ? 0 : 1 - Double(computedTokens) / Double(leafPathTokens) }
}

/// One decode forward of a sampling call (`TreeSamplingStats.decodeForwards`).
public struct DecodeForward: Sendable, Equatable {
    public var rows: Int
    public var attentionPairs: Int
    public var seconds: Double

    public init(rows: Int, attentionPairs: Int, seconds: Double) {
        self.rows = rows
        self.attentionPairs = attentionPairs
        self.seconds = seconds
    }
}
