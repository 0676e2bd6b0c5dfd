import Testing
import TestSupport
@testable import Tensors

/// The cached-attention loops (`scaledDots`, `addWeightedRows`) against plain Double sums, on
/// row counts around their 4- and 8-row steps and widths around their 8-, 32- and 64-float chunks.
@Suite struct VectorMathRowsTests {
    static let shapes = [(1, 1), (3, 7), (4, 8), (5, 33), (9, 64), (13, 72), (33, 130), (257, 64),
                         (8, 32), (19, 31), (17, 24), (9, 104), (11, 40)]

    @Test(arguments: shapes)
    func scaledDotsMatchDoubleSums(count: Int, n: Int) {
        var rng = TestRNG(seed: UInt64(count * 131 + n))
        let stride = n + 3
        let x = rng.floats(n), rows = rng.floats(count * stride)
        var scores = [Float](repeating: .nan, count: count + 1)
        x.withUnsafeBufferPointer { px in rows.withUnsafeBufferPointer { pr in scores.withUnsafeMutableBufferPointer { ps in
            VectorMath.scaledDots(px.baseAddress!, rows: pr.baseAddress!, stride: stride, count: count, n: n,
                                  scale: 0.125, into: ps.baseAddress!)
        } } }
        let ref = (0..<count).map { j in 0.125 * (0..<n).reduce(0.0) { $0 + Double(x[$1]) * Double(rows[j * stride + $1]) } }
        expectClose(Array(scores.prefix(count)), ref, atol: 1e-6 * Double(n), rtol: 1e-5, "scaledDots \(count) rows of \(n)")
        #expect(scores[count].isNaN, "scaledDots wrote past its \(count) scores")
    }

    @Test(arguments: shapes)
    func addWeightedRowsMatchesDoubleSums(count: Int, n: Int) {
        var rng = TestRNG(seed: UInt64(count * 977 + n))
        let stride = n + 5
        let w = rng.floats(count), rows = rng.floats(count * stride), start = rng.floats(n + 1)
        var out = start
        w.withUnsafeBufferPointer { pw in rows.withUnsafeBufferPointer { pr in out.withUnsafeMutableBufferPointer { po in
            VectorMath.addWeightedRows(pw.baseAddress!, rows: pr.baseAddress!, stride: stride, count: count, n: n,
                                       into: po.baseAddress!)
        } } }
        let ref = (0..<n).map { i in Double(start[i]) + (0..<count).reduce(0.0) { $0 + Double(w[$1]) * Double(rows[$1 * stride + i]) } }
        expectClose(Array(out.prefix(n)), ref, atol: 1e-6 * Double(count), rtol: 1e-5, "addWeightedRows \(count) rows of \(n)")
        #expect(out[n] == start[n], "addWeightedRows wrote past its \(n) outputs")
    }

    /// The 8-row loop (heads of at most 32 floats) does each row's arithmetic as the 4-row loop
    /// does: the same rows scored 4 at a time give the same bits.
    @Test(arguments: [(8, 32), (24, 32), (19, 31), (16, 17), (9, 8)])
    func scaledDotsGiveTheSameBitsEightOrFourRowsAtATime(count: Int, n: Int) {
        var rng = TestRNG(seed: UInt64(count * 31 + n))
        let stride = n + 3
        let x = rng.floats(n), rows = rng.floats((count + 3) * stride)
        var together = [Float](repeating: 0, count: count), fours = [Float](repeating: 0, count: count + 3)
        x.withUnsafeBufferPointer { px in rows.withUnsafeBufferPointer { pr in
            VectorMath.scaledDots(px.baseAddress!, rows: pr.baseAddress!, stride: stride, count: count, n: n,
                                  scale: 0.17, into: &together)
            fours.withUnsafeMutableBufferPointer { pf in
                for j in Swift.stride(from: 0, to: count, by: 4) {
                    VectorMath.scaledDots(px.baseAddress!, rows: pr.baseAddress! + j * stride, stride: stride, count: 4, n: n,
                                          scale: 0.17, into: pf.baseAddress! + j)
                }
            }
        } }
        #expect(together.map(\.bitPattern) == fours.prefix(count).map(\.bitPattern))
    }

    /// Every output adds the rows in order j = 0, 1, ... with one fused multiply-add each,
    /// whichever chunk (64, 32 or 8 floats) it falls in: the scalar fused chain's bits.
    @Test(arguments: [(5, 32), (7, 64), (9, 96), (6, 104), (3, 40), (33, 8)])
    func addWeightedRowsIsTheOrderedFusedSum(count: Int, n: Int) {
        var rng = TestRNG(seed: UInt64(count * 71 + n))
        let stride = n + 5
        let w = rng.floats(count), rows = rng.floats(count * stride), start = rng.floats(n)
        var out = start
        w.withUnsafeBufferPointer { pw in rows.withUnsafeBufferPointer { pr in
            VectorMath.addWeightedRows(pw.baseAddress!, rows: pr.baseAddress!, stride: stride, count: count, n: n, into: &out)
        } }
        let ref = (0..<n).map { i in (0..<count).reduce(start[i]) { $0.addingProduct(w[$1], rows[$1 * stride + i]) } }
        #expect(out.map(\.bitPattern) == ref.map(\.bitPattern))
    }
}
