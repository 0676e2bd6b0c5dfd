import Testing
import TestSupport
@testable import Tensors

/// A packed tree of 14 tokens: a 4-token prompt, three branches from its last token, and two
/// children of the first branch (five root-to-leaf paths in all, listed in `paths`).
enum PackedTree {
    static let parents = [-1, 0, 1, 2, /* A */ 3, 4, /* B */ 3, 6, 7, /* C */ 3, 9, /* A.1 */ 5, 11, /* A.2 */ 5]
    static let paths: [[Int]] = [
        [0, 1, 2, 3, 4, 5, 11, 12],
        [0, 1, 2, 3, 4, 5, 13],
        [0, 1, 2, 3, 6, 7, 8],
        [0, 1, 2, 3, 9, 10],
    ]
    /// Token j is visible from i iff some path holds both with j at or before i.
    static func visible(_ i: Int, _ j: Int) -> Bool {
        paths.contains { path in
            guard let pi = path.firstIndex(of: i), let pj = path.firstIndex(of: j) else { return false }
            return pj <= pi
        }
    }
}

/// Attention: Float32 dot products over headDim and softmax over the span: atol 2e-5.
@Suite struct AttentionTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var tokens: Int, qHeads: Int, kvHeads: Int, headDim: Int
        var testDescription: String { "T\(tokens) q\(qHeads) kv\(kvHeads) d\(headDim)" }
    }

    static let cases = [
        Case(tokens: 1, qHeads: 1, kvHeads: 1, headDim: 1),
        Case(tokens: 7, qHeads: 4, kvHeads: 4, headDim: 8),
        Case(tokens: 33, qHeads: 6, kvHeads: 2, headDim: 16),   // grouped-query: 3 q heads per kv head
        Case(tokens: 257, qHeads: 3, kvHeads: 1, headDim: 33),  // multi-query, odd head size
    ]

    func inputs(_ c: Case, seed: UInt64) throws -> (q: Tensor, k: Tensor, v: Tensor, dOut: Tensor) {
        var rng = TestRNG(seed: seed)
        return (try Tensor(shape: [c.tokens, c.qHeads, c.headDim], scalars: rng.floats(c.tokens * c.qHeads * c.headDim, scale: 2)),
                try Tensor(shape: [c.tokens, c.kvHeads, c.headDim], scalars: rng.floats(c.tokens * c.kvHeads * c.headDim, scale: 2)),
                try Tensor(shape: [c.tokens, c.kvHeads, c.headDim], scalars: rng.floats(c.tokens * c.kvHeads * c.headDim)),
                try Tensor(shape: [c.tokens, c.qHeads, c.headDim], scalars: rng.floats(c.tokens * c.qHeads * c.headDim)))
    }

    func check(_ c: Case, mask: AttentionMask, visible: (Int, Int) -> Bool, seed: UInt64, label: String) throws {
        let (q, k, v, dOut) = try inputs(c, seed: seed)
        let scale = Attention.defaultScale(headDim: c.headDim)
        let (out, lse) = try Attention.forward(q: q, k: k, v: v, mask: mask)
        let ref = Reference.attention(q: q.scalars.doubles, k: k.scalars.doubles, v: v.scalars.doubles, tokens: c.tokens,
                                      qHeads: c.qHeads, kvHeads: c.kvHeads, headDim: c.headDim, visible: visible, scale: Double(scale))
        expectClose(out.scalars, ref, atol: 2e-5, rtol: 1e-4, "\(label) forward \(c.testDescription)")
        let (dq, dk, dv) = try Attention.backward(dOut, q: q, k: k, v: v, out: out, lse: lse, mask: mask)
        let rb = Reference.attentionBackward(dOut.scalars.doubles, q: q.scalars.doubles, k: k.scalars.doubles, v: v.scalars.doubles,
                                             tokens: c.tokens, qHeads: c.qHeads, kvHeads: c.kvHeads, headDim: c.headDim,
                                             visible: visible, scale: Double(scale))
        expectClose(dq.scalars, rb.dq, atol: 2e-5, rtol: 1e-4, "\(label) dq \(c.testDescription)")
        expectClose(dk.scalars, rb.dk, atol: 5e-5, rtol: 1e-4, "\(label) dk \(c.testDescription)")
        expectClose(dv.scalars, rb.dv, atol: 5e-5, rtol: 1e-4, "\(label) dv \(c.testDescription)")
    }

    @Test(arguments: cases)
    func causalMatchesReference(c: Case) throws {
        try check(c, mask: .causal(count: c.tokens), visible: { $1 <= $0 }, seed: UInt64(c.tokens), label: "causal")
    }

    @Test(arguments: [Case(tokens: 14, qHeads: 4, kvHeads: 2, headDim: 8), Case(tokens: 14, qHeads: 3, kvHeads: 3, headDim: 5)])
    func treeMaskMatchesReference(c: Case) throws {
        let mask = try AttentionMask(parents: PackedTree.parents)
        for i in 0..<c.tokens {
            for j in 0..<c.tokens { #expect(mask.allows(query: i, key: j) == PackedTree.visible(i, j), "mask (\(i), \(j))") }
        }
        try check(c, mask: mask, visible: PackedTree.visible, seed: 99, label: "tree")
    }

    /// The point of the tree mask: one pass over the packed tree gives every token the output
    /// that plain causal attention over its own root-to-leaf path gives it.
    @Test func packedTreeEqualsCausalAttentionPerPath() throws {
        let c = Case(tokens: 14, qHeads: 4, kvHeads: 2, headDim: 8)
        let (q, k, v, _) = try inputs(c, seed: 5)
        let (packed, _) = try Attention.forward(q: q, k: k, v: v, mask: AttentionMask(parents: PackedTree.parents))
        func rows(_ t: Tensor, _ path: [Int]) throws -> Tensor {
            let width = t.shape[1] * t.shape[2]
            return try Tensor(shape: [path.count, t.shape[1], t.shape[2]], scalars: path.flatMap { t.scalars[$0 * width..<($0 + 1) * width] })
        }
        for path in PackedTree.paths {
            let (alone, _) = try Attention.forward(q: rows(q, path), k: rows(k, path), v: rows(v, path), mask: .causal(count: path.count))
            expectClose(try rows(packed, path).scalars, alone.scalars.doubles, atol: 1e-6, rtol: 1e-6, "path \(path)")
        }
    }

    /// Several sequences and trees packed into one sequence, of lengths around the kernel's
    /// 64-query blocks: causal 130, the 14-token tree, a lone token, an 84-token tree (a
    /// 40-token prompt, two 20-token branches, a 4-token child of the first; its second branch
    /// and the child lie in the tree's second block), causal 64, causal 65.
    static let packedPieces: [[Int]] = [
        (0..<130).map { $0 - 1 }, PackedTree.parents, [-1],
        (0..<40).map { $0 - 1 } + [39] + (41..<60).map { $0 - 1 } + [39] + (61..<80).map { $0 - 1 } + [59] + (81..<84).map { $0 - 1 },
        (0..<64).map { $0 - 1 }, (0..<65).map { $0 - 1 },
    ]

    static func packed(_ pieces: [[Int]]) -> (parents: [Int], segments: [Range<Int>]) {
        var parents: [Int] = [], segments: [Range<Int>] = []
        for piece in pieces {
            segments.append(parents.count..<(parents.count + piece.count))
            parents += piece.map { $0 >= 0 ? $0 + segments.last!.lowerBound : -1 }
        }
        return (parents, segments)
    }

    @Test func segmentsSplitWhereNoChainCrosses() throws {
        #expect(AttentionMask.causal(count: 5).segments == [0..<5])
        #expect(AttentionMask.causal(count: 0).segments == [])
        #expect(try AttentionMask(parents: PackedTree.parents).segments == [0..<14])
        // Token 2 starts a path, but token 3 reaches back across it to 1: one segment.
        #expect(try AttentionMask(parents: [-1, 0, -1, 1]).segments == [0..<4])
        #expect(try AttentionMask(parents: [-1, 0, -1, 2, -1]).segments == [0..<2, 2..<4, 4..<5])
        // Two paths interleaved inside one range, then a separate one.
        #expect(try AttentionMask(parents: [-1, -1, 0, 1, -1, 4]).segments == [0..<4, 4..<6])
        let (parents, segments) = Self.packed(Self.packedPieces)
        #expect(try AttentionMask(parents: parents).segments == segments)
    }

    /// The packed mask against the Double reference (which knows nothing of segments or blocks).
    @Test(arguments: [Case(tokens: 0, qHeads: 4, kvHeads: 2, headDim: 8), Case(tokens: 0, qHeads: 3, kvHeads: 1, headDim: 33)])
    func packedSegmentsMatchReference(c: Case) throws {
        let mask = try AttentionMask(parents: Self.packed(Self.packedPieces).parents)
        var c = c
        c.tokens = mask.count
        try check(c, mask: mask, visible: { mask.allows(query: $0, key: $1) }, seed: 31, label: "packed")
    }

    /// Each packed piece gives what it gives alone: the split changes nothing.
    @Test func packedSegmentsEqualEachPieceAlone() throws {
        let (parents, segments) = Self.packed(Self.packedPieces)
        let c = Case(tokens: parents.count, qHeads: 4, kvHeads: 2, headDim: 16)
        let (q, k, v, dOut) = try inputs(c, seed: 8)
        let mask = try AttentionMask(parents: parents)
        let (out, lse) = try Attention.forward(q: q, k: k, v: v, mask: mask)
        let g = try Attention.backward(dOut, q: q, k: k, v: v, out: out, lse: lse, mask: mask)
        func rows(_ t: Tensor, _ r: Range<Int>) throws -> Tensor {
            let width = t.shape[1] * t.shape[2]
            return try Tensor(shape: [r.count, t.shape[1], t.shape[2]], scalars: Array(t.scalars[r.lowerBound * width..<r.upperBound * width]))
        }
        for (piece, r) in zip(Self.packedPieces, segments) {
            let alone = try AttentionMask(parents: piece)
            let (o, l) = try Attention.forward(q: rows(q, r), k: rows(k, r), v: rows(v, r), mask: alone)
            let ga = try Attention.backward(rows(dOut, r), q: rows(q, r), k: rows(k, r), v: rows(v, r), out: o, lse: l, mask: alone)
            expectClose(try rows(out, r).scalars, o.scalars.doubles, atol: 1e-6, rtol: 1e-6, "out \(r)")
            expectClose(try rows(g.dq, r).scalars, ga.dq.scalars.doubles, atol: 1e-6, rtol: 1e-6, "dq \(r)")
            expectClose(try rows(g.dk, r).scalars, ga.dk.scalars.doubles, atol: 1e-6, rtol: 1e-6, "dk \(r)")
            expectClose(try rows(g.dv, r).scalars, ga.dv.scalars.doubles, atol: 1e-6, rtol: 1e-6, "dv \(r)")
        }
    }

    /// A GRPO group packed as one tree: a 10-token prompt, then 6 completions of 30 tokens
    /// each hanging from its last token (190 tokens, three 64-query blocks), then a 3-way tree
    /// whose children have 2 children each. Queries of a completion see the prompt and their own
    /// completion only.
    static let wideGroup: [Int] = {
        var parents = (0..<10).map { $0 - 1 }
        for _ in 0..<6 {
            let first = parents.count
            parents += [9] + Array(first..<(first + 29))
        }
        let root = parents.count
        parents += [-1, root]
        for _ in 0..<3 {
            let child = parents.count
            parents += [root + 1, child, child + 1]
            for _ in 0..<2 { parents += [child + 2, parents.count] }
        }
        return parents
    }()

    @Test(arguments: [Case(tokens: 0, qHeads: 4, kvHeads: 2, headDim: 8), Case(tokens: 0, qHeads: 3, kvHeads: 1, headDim: 33)])
    func wideGroupMatchesReference(c: Case) throws {
        let mask = try AttentionMask(parents: Self.wideGroup)
        var c = c
        c.tokens = mask.count
        try check(c, mask: mask, visible: { mask.allows(query: $0, key: $1) }, seed: 41, label: "wide group")
    }

    /// Each block's score columns are exactly the keys its queries see (the union of their
    /// chains), not the whole span before the block: that is where a wide tree's work goes.
    @Test func blocksKeepOnlyTheKeysTheirQueriesSee() throws {
        for parents in [Self.wideGroup, Self.packed(Self.packedPieces).parents, PackedTree.parents] {
            let mask = try AttentionMask(parents: parents)
            for block in Attention.blocks(mask) {
                let seen = (block.keyStart..<block.rows.upperBound).filter { j in block.rows.contains { mask.allows(query: $0, key: j) } }
                let columns = block.keys.map { $0.map(Int.init) } ?? Array(block.keyStart..<block.rows.upperBound)
                #expect(columns == seen, "block \(block.rows)")
            }
        }
        // The group's blocks: the first sees all of 0..<64 (prompt, completion 1, the start of
        // completion 2); the second (64..<128, in completions 2 to 4) the prompt and those
        // three completions up to 128, 10 + 30 + 30 + 28 keys instead of 128; the third
        // (128..<190, completions 4 to 6) 10 + 3 x 30 instead of 190.
        let blocks = Attention.blocks(try AttentionMask(parents: Self.wideGroup))
        #expect(blocks.map(\.rows) == [0..<64, 64..<128, 128..<190, 190..<213])
        #expect(blocks.map(\.width) == [64, 98, 100, 23])
        #expect(blocks[0].keys == nil && blocks[1].keys != nil)
    }

    @Test func referenceBackwardMatchesFiniteDifferences() throws {
        let c = Case(tokens: 6, qHeads: 2, kvHeads: 1, headDim: 3)
        var rng = TestRNG(seed: 77)
        let q = rng.floats(c.tokens * c.qHeads * c.headDim).doubles, k = rng.floats(c.tokens * c.kvHeads * c.headDim).doubles
        let v = rng.floats(c.tokens * c.kvHeads * c.headDim).doubles, w = rng.floats(q.count).doubles
        let visible: (Int, Int) -> Bool = { i, j in j <= i && !(i == 4 && j == 2) }  // an irregular mask
        func f(_ q: [Double], _ k: [Double], _ v: [Double]) -> [Double] {
            Reference.attention(q: q, k: k, v: v, tokens: c.tokens, qHeads: c.qHeads, kvHeads: c.kvHeads, headDim: c.headDim, visible: visible, scale: 0.7)
        }
        let g = Reference.attentionBackward(w, q: q, k: k, v: v, tokens: c.tokens, qHeads: c.qHeads, kvHeads: c.kvHeads, headDim: c.headDim, visible: visible, scale: 0.7)
        expectClose(g.dq, finiteDifferenceGradient(q, weights: w) { f($0, k, v) }, atol: 1e-8, rtol: 1e-6, "FD dq")
        expectClose(g.dk, finiteDifferenceGradient(k, weights: w) { f(q, $0, v) }, atol: 1e-8, rtol: 1e-6, "FD dk")
        expectClose(g.dv, finiteDifferenceGradient(v, weights: w) { f(q, k, $0) }, atol: 1e-8, rtol: 1e-6, "FD dv")
    }

    /// Thread counts go through `Compute.withThreads` (this task only): `setThreads` would change
    /// the count under every other suite running in this process.
    @Test func oneThreadAndAllThreadsAgree() throws {
        let c = Case(tokens: 65, qHeads: 4, kvHeads: 2, headDim: 16)
        let (q, k, v, dOut) = try inputs(c, seed: 12)
        func run() throws -> [Float] {
            let (out, lse) = try Attention.forward(q: q, k: k, v: v, mask: .causal(count: c.tokens))
            let g = try Attention.backward(dOut, q: q, k: k, v: v, out: out, lse: lse, mask: .causal(count: c.tokens))
            return out.scalars + g.dq.scalars + g.dk.scalars + g.dv.scalars
        }
        let one = try Compute.withThreads(1) { try run() }
        let many = try Compute.withThreads(max(2, Compute.defaultThreads)) { try run() }
        expectClose(many, one, atol: 1e-6, rtol: 1e-6, "threads 1 vs many")
    }

    @Test func badInputIsNamed() throws {
        #expect(throws: TensorError.self) { try AttentionMask(parents: [-1, 1]) }
        #expect(throws: TensorError.self) { try AttentionMask(parents: [0]) }
        let e = #expect(throws: TensorError.self) {
            try Attention.forward(q: Tensor(zeros: [3, 3, 4]), k: Tensor(zeros: [3, 2, 4]), v: Tensor(zeros: [3, 2, 4]), mask: .causal(count: 3))
        }
        #expect(e?.message == "query heads (3) must be a multiple of key/value heads (2); q [3, 3, 4], k [3, 2, 4]")
        #expect(throws: TensorError.self) {
            try Attention.forward(q: Tensor(zeros: [3, 2, 4]), k: Tensor(zeros: [3, 2, 4]), v: Tensor(zeros: [3, 2, 4]), mask: .causal(count: 4))
        }
    }
}
