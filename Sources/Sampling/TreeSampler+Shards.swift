import Foundation
import Tensors
import Transformer

extension TreeSampler {
    /// Samples the trees of `prompts` in `workers` contiguous shards at once, shard c on its own
    /// thread (`Compute.dataParallel`: single-threaded kernels, OpenBLAS one thread per call)
    /// with a sampler and buffers of its own. Why: a small model's decode forward is too short
    /// to split well over cores (two threads on one batch ran about 1.1x one thread here), while
    /// two independent batches run about 2x.
    ///
    /// Tree i keeps its stream (`streams?[i] ?? i`), so it depends on (seed, stream) as before;
    /// only the float rounding of the matrix products can differ from one batch of all prompts
    /// (OpenBLAS rounds by the row count), and with it, rarely, a sampled token. The same
    /// worker count always gives the same trees. Memory: the shards' plans together must fit
    /// `memoryLimitBytes`. `lastStats` adds the shards' counts and seconds of forwards, keeps the
    /// widest forward and the longest prefill, and times the whole call.
    func sampleInShards(
        prompts: [[Int]], options: TreeSamplingOptions, streams: [UInt64]?, memoryLimitBytes: Int?, workers: Int
    ) throws -> [RolloutTree] {
        let start = DispatchTime.now().uptimeNanoseconds
        let limit = memoryLimitBytes ?? SystemMemory.defaultLimitBytes()
        let ranges = (0..<workers).map { Compute.chunkRange($0, of: workers, count: prompts.count) }
        let plans = ranges.map { Self.memoryPlan(config: model.config, promptLengths: prompts[$0].map(\.count), options: options) }
        let whole = Self.memoryPlan(config: model.config, promptLengths: prompts.map(\.count), options: options)
        try whole.check(limitBytes: limit)
        let total = plans.reduce(0) { saturatingAdd($0, $1.totalBytes) }
        guard total <= limit else {
            throw TreeSamplingError("the requested trees, sampled in \(workers) shards at once (one per thread), need up to \(MemoryPlan.format(total)) (\(total) bytes), over the memory limit of \(MemoryPlan.format(limit)) (\(limit) bytes); use fewer threads, lower the number of prompts, or raise the memory limit", setting: .memoryLimit)
        }
        while shardSamplers.count < workers { shardSamplers.append(TreeSampler(model: model)) }
        let results = WorkerSlots<[RolloutTree]>(workers, initial: [])
        try Compute.dataParallel(workers) { c in
            let range = ranges[c]
            let trees = try shardSamplers[c].sampleBatch(
                prompts: Array(prompts[range]), options: options, streams: range.map { streams?[$0] ?? UInt64($0) },
                memoryLimitBytes: Int.max, firstPrompt: range.lowerBound)
            results[c] = trees
        }
        var stats = TreeSamplingStats(trees: prompts.count, promptTokens: prompts.reduce(0) { $0 + $1.count })
        for s in shardSamplers.prefix(workers).map(\.lastStats) {
            stats.sampledTokens += s.sampledTokens
            stats.leaves += s.leaves
            stats.computedTokens += s.computedTokens
            stats.forwards += s.forwards
            stats.widestForward = max(stats.widestForward, s.widestForward)
            stats.leafPathTokens += s.leafPathTokens
            stats.kvSlotsUsed += s.kvSlotsUsed
            stats.prefillSeconds = max(stats.prefillSeconds, s.prefillSeconds)
            stats.decodeForwardSeconds += s.decodeForwardSeconds
            stats.decodeForwards += s.decodeForwards
        }
        stats.plan = whole
        stats.wallSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        lastStats = stats
        return results.values.flatMap { $0 }
    }
}
