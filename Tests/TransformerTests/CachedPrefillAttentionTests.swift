import Foundation
import Testing
import TestSupport
import Tensors
@testable import ModelIO
@testable import Transformer

/// The GEMM path of cached attention (`CachedPrefillAttention`, taken by runs of at least
/// `CachedAttention.gemmRunLength` rows of one block) against `Reference.attention` in Double,
/// with and without ancestor blocks, on run lengths around its chunk size; and a whole model's
/// long cached prefill, forked, against the packed forward.
@Suite struct CachedPrefillAttentionTests {
    @Test(arguments: [0, 7, 33], [16, 33, 257])
    func gemmPathMatchesReference(ancestors: Int, run: Int) throws {
        let config = try ReferenceData.model("qwen2-hf").config
        let heads = config.heads, kvHeads = config.kvHeads, hd = config.headDim
        let qd = heads * hd, kvd = kvHeads * hd
        // One extra row of another block in the batch (a decode row beside the prompt).
        let total = ancestors + run
        let cache = KVCache(config: config, slots: total + 8, blocks: 4)
        var rng = TestRNG(seed: UInt64(ancestors * 1000 + run))
        let batch = CachedBatch(capacity: run + 1)
        var parent: Int? = nil
        if ancestors > 0 {
            // Two ancestor blocks: root (fully seen) and a middle block seen in part.
            let root = try cache.makeBlock(capacity: ancestors - ancestors / 3)
            for _ in 0..<(ancestors - ancestors / 3) { _ = try cache.appendSlot(to: root) }
            parent = root
            if ancestors / 3 > 0 {
                let middle = try cache.makeBlock(parent: root, capacity: ancestors / 3 + 2)
                for _ in 0..<(ancestors / 3) { _ = try cache.appendSlot(to: middle) }
                parent = middle
            }
        }
        let other = try cache.makeBlock(capacity: 4)
        try batch.append(token: 0, block: other, cache: cache)
        let block = try cache.makeBlock(parent: parent, capacity: run)
        for _ in 0..<run { try batch.append(token: 0, block: block, cache: cache) }
        // Random K/V in every slot of layer 0, random q for every batch row.
        let keys = cache.keys(layer: 0), values = cache.values(layer: 0)
        for i in 0..<(cache.usedSlots * kvd) { keys[i] = rng.symmetric(); values[i] = rng.symmetric() }
        var q = [Float](repeating: 0, count: (run + 1) * qd)
        for i in q.indices { q[i] = 2 * rng.symmetric() }
        var out = [Float](repeating: .nan, count: (run + 1) * qd), lse = [Float](repeating: .nan, count: (run + 1) * heads)
        let scale = 1 / Float(hd).squareRoot()
        q.withUnsafeBufferPointer { pq in out.withUnsafeMutableBufferPointer { po in lse.withUnsafeMutableBufferPointer { pl in
            CachedAttention.forward(q: pq.baseAddress!, out: po.baseAddress!, lse: pl.baseAddress!, batch: batch, cache: cache,
                                    layer: 0, heads: heads, kvHeads: kvHeads, headDim: hd, scale: scale, scores: cache.scratch)
        } } }
        // Reference: the chain as one causal sequence (ancestors' visible slots, then the run).
        var chain: [Int] = []
        cache.forEachAncestorRun(block: block) { start, count in chain += Array(start..<(start + count)) }
        #expect(chain.count == ancestors)
        chain += (0..<run).map { cache.block(block).start + $0 }
        var rq = [Double](repeating: 0, count: chain.count * qd), rk: [Double] = [], rv: [Double] = []
        for (t, slot) in chain.enumerated() {
            if t >= ancestors { for i in 0..<qd { rq[t * qd + i] = Double(q[(1 + t - ancestors) * qd + i]) } }
            for i in 0..<kvd { rk.append(Double(keys[slot * kvd + i])); rv.append(Double(values[slot * kvd + i])) }
        }
        let ref = Reference.attention(q: rq, k: rk, v: rv, tokens: chain.count, qHeads: heads, kvHeads: kvHeads, headDim: hd,
                                      visible: { $1 <= $0 }, scale: Double(scale))
        // `out` started as NaN: a row the kernel never wrote fails here as a non-finite element.
        var rows = NumericComparison(Tolerance(absolute: 2e-6))
        for t in 0..<run {
            rows.add(out[((1 + t) * qd)..<((2 + t) * qd)], ref[((ancestors + t) * qd)..<((ancestors + t + 1) * qd)])
            for h in 0..<heads { #expect(lse[(1 + t) * heads + h].isFinite, "lse of row \(t) head \(h)") }
        }
        rows.expectPasses("prefill attention (\(ancestors) ancestor keys, run of \(run)) vs Reference.attention, rows 1...\(run) x \(qd)")
        // The lone row of the other block went the row-by-row way and sees only itself.
        let v0 = cache.block(other).start * kvd
        for h in 0..<heads {
            for d in 0..<hd {
                let want = values[v0 + (h / (heads / kvHeads)) * hd + d]
                #expect(abs(out[h * hd + d] - want) <= 1e-6, "single-key row head \(h) dim \(d): \(out[h * hd + d]) vs \(want)")
            }
        }
    }

    /// A 21-token prompt and two forked branches of 17 and 3 tokens (one long enough for the
    /// GEMM path, one not) in one batch, against each branch as its own packed sequence.
    @Test func longForkedPrefillEqualsPackedSequences() throws {
        let model = try ReferenceData.model("qwen2-hf")
        let vocab = model.config.vocabSize
        let prompt = (0..<21).map { ($0 * 37 + 5) % vocab }
        let branches = [(0..<17).map { ($0 * 11 + 3) % vocab }, [40, 41, 42]]
        let cmp = try ForwardTests.forkedAgainstPacked(model, prompt: prompt, branches: branches, includePrompt: true)
        #expect(cmp.passes, "\(cmp.message("long forked cached prefill vs packed sequences"))")
    }
}
