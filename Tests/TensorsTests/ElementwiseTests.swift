import Testing
import TestSupport
@testable import Tensors

/// Elementwise ops are exact in Float32 up to one rounding: atol 1e-6.
@Suite struct ElementwiseTests {
    @Test(arguments: oddSizes)
    func addMulScaleAndBackward(n: Int) throws {
        var rng = TestRNG(seed: UInt64(n))
        let a = try Tensor(shape: [n], scalars: rng.floats(n)), b = try Tensor(shape: [n], scalars: rng.floats(n))
        let dOut = try Tensor(shape: [n], scalars: rng.floats(n))
        expectClose(try Elementwise.add(a, b).scalars, zip(a.scalars, b.scalars).map { Double($0) + Double($1) }, atol: 1e-6, rtol: 0, "add")
        expectClose(try Elementwise.mul(a, b).scalars, zip(a.scalars, b.scalars).map { Double($0) * Double($1) }, atol: 1e-6, rtol: 0, "mul")
        expectClose(Elementwise.scale(a, by: -2.5).scalars, a.scalars.map { -2.5 * Double($0) }, atol: 1e-6, rtol: 0, "scale")
        let (da, db) = try Elementwise.mulBackward(dOut, a, b)
        expectClose(da.scalars, zip(dOut.scalars, b.scalars).map { Double($0) * Double($1) }, atol: 1e-6, rtol: 0, "d mul / da")
        expectClose(db.scalars, zip(dOut.scalars, a.scalars).map { Double($0) * Double($1) }, atol: 1e-6, rtol: 0, "d mul / db")
        // add and scale pass the gradient through (times the factor).
        var dx = [Float](repeating: 0, count: n), dy = [Float](repeating: 0, count: n)
        dOut.withPointer { pd in dx.withUnsafeMutableBufferPointer { px in dy.withUnsafeMutableBufferPointer { py in
            Elementwise.addBackward(dOut: pd, da: px.baseAddress!, db: py.baseAddress!, count: n)
            Elementwise.scaleBackward(dOut: pd, by: 3, da: px.baseAddress!, count: n)
        } } }
        expectClose(dx, dOut.scalars.map { 4 * Double($0) }, atol: 1e-6, rtol: 0, "add + 3x scale backward")
        expectClose(dy, dOut.scalars.doubles, atol: 0, rtol: 0, "add backward")
    }

    @Test(arguments: [(1, 1), (7, 33), (257, 7)])
    func biasAddAndBackward(rows: Int, cols: Int) throws {
        var rng = TestRNG(seed: UInt64(rows * 31 + cols))
        let x = try Tensor(shape: [rows, cols], scalars: rng.floats(rows * cols))
        let bias = try Tensor(shape: [cols], scalars: rng.floats(cols))
        let y = try Elementwise.biasAdd(x, bias: bias)
        expectClose(y.scalars, (0..<(rows * cols)).map { Double(x.scalars[$0]) + Double(bias.scalars[$0 % cols]) }, atol: 1e-6, rtol: 0, "bias add")
        let dOut = try Tensor(shape: [rows, cols], scalars: rng.floats(rows * cols))
        let dBias = try Elementwise.biasAddBackward(dOut, cols: cols)
        let ref = (0..<cols).map { c in (0..<rows).map { Double(dOut.scalars[$0 * cols + c]) }.reduce(0, +) }
        expectClose(dBias.scalars, ref, atol: 1e-5, rtol: 1e-5, "bias backward")
    }

    @Test func badShapesAreNamed() {
        let e = #expect(throws: TensorError.self) { try Elementwise.add(Tensor(zeros: [2, 3]), Tensor(zeros: [3, 2])) }
        #expect(e?.description == "add: a and b must have the same shape, found [2, 3] and [3, 2]")
        #expect(throws: TensorError.self) { try Elementwise.biasAdd(Tensor(zeros: [2, 3]), bias: Tensor(zeros: [2])) }
        #expect(throws: TensorError.self) { try Tensor(shape: [2, 2], scalars: [1, 2, 3]) }
        #expect(throws: TensorError.self) { try Tensor(zeros: [6]).reshaped([4, 2]) }
    }
}

@Suite struct EmbeddingTests {
    @Test(arguments: [(1, 1, 1), (7, 33, 5), (257, 7, 300)])
    func forwardAndScatterAddBackward(vocab: Int, dim: Int, tokens: Int) throws {
        var rng = TestRNG(seed: UInt64(vocab + dim + tokens))
        let table = try Tensor(shape: [vocab, dim], scalars: rng.floats(vocab * dim))
        // More tokens than rows forces repeated ids, which must add up in the backward.
        let ids = rng.ids(tokens, below: vocab)
        let out = try Embedding.forward(table: table, ids: ids)
        expectClose(out.scalars, Reference.embedding(table: table.scalars.doubles, ids: ids, dim: dim), atol: 0, rtol: 0, "embedding")
        let dOut = try Tensor(shape: [tokens, dim], scalars: rng.floats(tokens * dim))
        let dTable = try Embedding.backward(dOut: dOut, ids: ids, vocab: vocab)
        expectClose(dTable.scalars, Reference.embeddingBackward(dOut: dOut.scalars.doubles, ids: ids, vocab: vocab, dim: dim),
                    atol: 1e-5, rtol: 1e-5, "embedding backward")
    }

    @Test func outOfRangeIdIsRefused() {
        let e = #expect(throws: TensorError.self) { try Embedding.forward(table: Tensor(zeros: [4, 2]), ids: [0, 4]) }
        #expect(e?.message == "token id 4 at position 1 is outside the table's 4 rows")
        #expect(throws: TensorError.self) { try Embedding.forward(table: Tensor(zeros: [4, 2]), ids: [-1]) }
        #expect(throws: TensorError.self) { try Embedding.backward(dOut: Tensor(zeros: [3, 2]), ids: [0, 1], vocab: 4) }
    }
}
