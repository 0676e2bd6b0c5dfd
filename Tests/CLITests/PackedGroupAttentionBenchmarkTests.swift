import Benchmarks
import Tensors
import Testing

/// The pair counts `bench kernels` prints beside its packed-group timing, against the mask.
@Suite struct PackedGroupAttentionBenchmarkTests {
    @Test func pairCountsMatchTheMask() throws {
        // A 3-token prompt and 2 completions of 4 tokens: 11 tokens packed, 7 per sequence alone.
        let parents = PackedGroupAttentionBenchmark.packedParents(prompt: 3, completions: 2, completionTokens: 4)
        #expect(parents == [-1, 0, 1, 2, 3, 4, 5, 2, 7, 8, 9])
        let r = try PackedGroupAttentionBenchmark.run(rounds: 1, prompt: 3, completions: 2, completionTokens: 4)
        // Each token sees its path: depth keys.
        let mask = try AttentionMask(parents: parents)
        #expect(r.packedPairs == mask.depths.reduce(0) { $0 + Int($1) })
        #expect(r.packedPairs == 6 + 2 * (4 * 3 + 10))
        #expect(r.separatePairs == 2 * 28 && r.triangularPairs == 66)
        #expect(r.packedSeconds > 0 && r.separateSeconds > 0)
    }
}
