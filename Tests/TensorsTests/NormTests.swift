import Testing
import TestSupport
@testable import Tensors

/// Norms: Float32 sums over dim terms: atol 1e-5, rtol 1e-4.
@Suite struct NormTests {
    @Test(arguments: [(1, 1), (7, 33), (33, 7), (3, 257), (257, 64)])
    func rmsNormMatchesReference(rows: Int, dim: Int) throws {
        var rng = TestRNG(seed: UInt64(rows * 7 + dim))
        let x = try Tensor(shape: [rows, dim], scalars: rng.floats(rows * dim, scale: 3))
        let w = try Tensor(shape: [dim], scalars: rng.floats(dim))
        let dy = try Tensor(shape: [rows, dim], scalars: rng.floats(rows * dim))
        let eps: Float = 1e-6
        let (y, rstd) = try RMSNorm.forward(x, weight: w, eps: eps)
        expectClose(y.scalars, Reference.rmsNorm(x.scalars.doubles, weight: w.scalars.doubles, eps: Double(eps)), atol: 1e-5, rtol: 1e-4, "rmsNorm")
        let (dx, dw) = try RMSNorm.backward(dy, x: x, weight: w, rstd: rstd)
        let ref = Reference.rmsNormBackward(dy.scalars.doubles, x: x.scalars.doubles, weight: w.scalars.doubles, eps: Double(eps))
        expectClose(dx.scalars, ref.dx, atol: 1e-5, rtol: 1e-4, "rmsNorm dx")
        expectClose(dw.scalars, ref.dWeight, atol: 1e-5 * Double(rows), rtol: 1e-4, "rmsNorm dWeight")
    }

    @Test(arguments: [(1, 1), (7, 33), (33, 7), (3, 257), (257, 64)])
    func layerNormMatchesReference(rows: Int, dim: Int) throws {
        var rng = TestRNG(seed: UInt64(rows * 13 + dim))
        let x = try Tensor(shape: [rows, dim], scalars: rng.floats(rows * dim, scale: 3))
        let w = try Tensor(shape: [dim], scalars: rng.floats(dim)), b = try Tensor(shape: [dim], scalars: rng.floats(dim))
        let dy = try Tensor(shape: [rows, dim], scalars: rng.floats(rows * dim))
        let eps: Float = 1e-5
        let (y, mean, rstd) = try LayerNorm.forward(x, weight: w, bias: b, eps: eps)
        expectClose(y.scalars, Reference.layerNorm(x.scalars.doubles, weight: w.scalars.doubles, bias: b.scalars.doubles, eps: Double(eps)),
                    atol: 1e-5, rtol: 1e-4, "layerNorm")
        let (dx, dw, db) = try LayerNorm.backward(dy, x: x, weight: w, mean: mean, rstd: rstd)
        let ref = Reference.layerNormBackward(dy.scalars.doubles, x: x.scalars.doubles, weight: w.scalars.doubles, eps: Double(eps))
        // dim 1 normalises to exactly zero: dx is 0 up to rounding of (x - mean) * rstd.
        expectClose(dx.scalars, ref.dx, atol: dim == 1 ? 1e-3 : 1e-4, rtol: 1e-4, "layerNorm dx")
        expectClose(dw.scalars, ref.dWeight, atol: 1e-5 * Double(rows), rtol: 1e-4, "layerNorm dWeight")
        expectClose(db.scalars, ref.dBias, atol: 1e-5 * Double(rows), rtol: 1e-4, "layerNorm dBias")
    }

    @Test func referenceBackwardsMatchFiniteDifferences() {
        var rng = TestRNG(seed: 5)
        let (rows, dim) = (3, 7)
        let x = rng.floats(rows * dim, scale: 2).doubles, w = rng.floats(dim).doubles, b = rng.floats(dim).doubles
        let dy = rng.floats(rows * dim).doubles
        let rms = Reference.rmsNormBackward(dy, x: x, weight: w, eps: 1e-6)
        expectClose(rms.dx, finiteDifferenceGradient(x, weights: dy) { Reference.rmsNorm($0, weight: w, eps: 1e-6) }, atol: 1e-7, rtol: 1e-6, "FD rms dx")
        expectClose(rms.dWeight, finiteDifferenceGradient(w, weights: dy) { Reference.rmsNorm(x, weight: $0, eps: 1e-6) }, atol: 1e-7, rtol: 1e-6, "FD rms dw")
        let ln = Reference.layerNormBackward(dy, x: x, weight: w, eps: 1e-5)
        expectClose(ln.dx, finiteDifferenceGradient(x, weights: dy) { Reference.layerNorm($0, weight: w, bias: b, eps: 1e-5) }, atol: 1e-7, rtol: 1e-6, "FD ln dx")
        expectClose(ln.dWeight, finiteDifferenceGradient(w, weights: dy) { Reference.layerNorm(x, weight: $0, bias: b, eps: 1e-5) }, atol: 1e-7, rtol: 1e-6, "FD ln dw")
        expectClose(ln.dBias, finiteDifferenceGradient(b, weights: dy) { Reference.layerNorm(x, weight: w, bias: $0, eps: 1e-5) }, atol: 1e-7, rtol: 1e-6, "FD ln db")
    }

    @Test func mismatchedWeightIsNamed() {
        let e = #expect(throws: TensorError.self) { try RMSNorm.forward(Tensor(zeros: [2, 8]), weight: Tensor(zeros: [4]), eps: 1e-6) }
        #expect(e?.description == "rmsNorm: expected x [..., 4] for weight [4], found x [2, 8]")
        #expect(throws: TensorError.self) { try LayerNorm.forward(Tensor(zeros: [2, 4]), weight: Tensor(zeros: [4]), bias: Tensor(zeros: [3]), eps: 1e-5) }
        #expect(throws: TensorError.self) { try RMSNorm.backward(Tensor(zeros: [2, 4]), x: Tensor(zeros: [2, 4]), weight: Tensor(zeros: [4]), rstd: Tensor(zeros: [3])) }
    }
}
