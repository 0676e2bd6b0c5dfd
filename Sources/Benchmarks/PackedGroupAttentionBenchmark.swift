import Foundation
import Tensors

/// `treerpo bench kernels`' packed-group row: attention forward + backward over one GRPO group
/// as `finetune` packs it (the prompt once, each completion a branch from the prompt's last
/// token) next to its peer, the same completions each run alone after their own copy of the
/// prompt (what a trainer that does not pack runs). SmolLM2-135M head layout (9 query heads,
/// 3 KV heads, 64 dims), random inputs.
///
/// The packed side sees prompt^2/2 + completions x (completion x prompt + completion^2/2) query-key
/// pairs, the peer completions x (prompt + completion)^2/2: packing should win by about their ratio
/// (less where blocks of 64 queries straddle two completions). Computing every pair left of the
/// diagonal of the packed sequence instead would cost (prompt + completions x completion)^2/2.
public enum PackedGroupAttentionBenchmark {
    public struct Result: Sendable {
        public var prompt: Int, completions: Int, completionTokens: Int
        public var packedSeconds: Double, separateSeconds: Double
        /// Visible (query, key) pairs per head: packed group, the separate sequences, and every
        /// pair at or left of the packed sequence's diagonal.
        public var packedPairs: Int, separatePairs: Int, triangularPairs: Int
        /// Peer time over packed time: above 1 when the packed group is faster.
        public var ratio: Double { separateSeconds / packedSeconds }
    }

    /// The group's predecessors: [prompt][completion 1]...[completion n]; each completion's
    /// first token follows the prompt's last one, every other token the one before it.
    public static func packedParents(prompt: Int, completions: Int, completionTokens: Int) -> [Int] {
        var parents = (0..<prompt).map { $0 - 1 }
        for _ in 0..<completions {
            let first = parents.count
            parents += [prompt - 1] + Array(first..<(first + completionTokens - 1))
        }
        return parents
    }

    public static func run(rounds: Int, prompt: Int = 64, completions: Int = 16, completionTokens: Int = 64) throws -> Result {
        var rng = BenchRNG(seed: 3)
        let (qh, kvh, d) = (9, 3, 64)
        let parents = packedParents(prompt: prompt, completions: completions, completionTokens: completionTokens)
        let packedMask = try AttentionMask(parents: parents)
        let alone = prompt + completionTokens, aloneMask = AttentionMask.causal(count: alone)
        func inputs(_ tokens: Int) throws -> (q: Tensor, k: Tensor, v: Tensor) {
            (try Tensor(shape: [tokens, qh, d], scalars: rng.floats(tokens * qh * d)),
             try Tensor(shape: [tokens, kvh, d], scalars: rng.floats(tokens * kvh * d)),
             try Tensor(shape: [tokens, kvh, d], scalars: rng.floats(tokens * kvh * d)))
        }
        let packed = try inputs(parents.count), single = try inputs(alone)
        func step(_ x: (q: Tensor, k: Tensor, v: Tensor), _ mask: AttentionMask) throws {
            let (out, lse) = try Attention.forward(q: x.q, k: x.k, v: x.v, mask: mask)
            _ = try Attention.backward(out, q: x.q, k: x.k, v: x.v, out: out, lse: lse, mask: mask)
        }
        try step(packed, packedMask)
        try step(single, aloneMask)
        let times = Stopwatch.alternating(rounds: rounds, {
            try? step(packed, packedMask)
        }, {
            for _ in 0..<completions { try? step(single, aloneMask) }
        })
        let triangle = { (n: Int) in n * (n + 1) / 2 }
        return Result(prompt: prompt, completions: completions, completionTokens: completionTokens,
                      packedSeconds: times.a, separateSeconds: times.b,
                      packedPairs: triangle(prompt) + completions * (completionTokens * prompt + triangle(completionTokens)),
                      separatePairs: completions * triangle(alone), triangularPairs: triangle(parents.count))
    }
}
