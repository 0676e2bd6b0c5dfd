import Testing
import TestSupport
@testable import Tensors

/// The inference-speed kernels against `Reference` (Double): the SIMD SwiGLU (its own sigmoid
/// from `expNonPositive`) on odd sizes, sizes that split into several parallel chunks, and inputs
/// out at the ends of the exponential's range.
@Suite struct ForwardKernelTests {
    @Test(arguments: oddSizes + [16_391, 100_003])
    func simdSwiGLUMatchesReference(n: Int) throws {
        var rng = TestRNG(seed: UInt64(n + 7))
        var g = rng.floats(n, scale: 8)
        let extremes: [Float] = [0, -0.0, 1e-30, -1e-30, 20, -20, 88, -88, 95, -95, 300, -300]
        for (i, e) in extremes.enumerated() where i < n { g[n - 1 - i] = e }
        let gate = try Tensor(shape: [n], scalars: g), up = try Tensor(shape: [n], scalars: rng.floats(n, scale: 2))
        let ref = Reference.swiglu(gate: gate.scalars.doubles, up: up.scalars.doubles)
        expectClose(try SwiGLU.forward(gate: gate, up: up).scalars, ref, atol: 1e-30, rtol: 1e-6, "swiglu \(n)")
    }

    /// `maxSIMD`'s sign-bit select, with -inf lanes (masked scores) and the maximum in the tail.
    @Test(arguments: oddSizes + [8, 64])
    func maxSIMDMatchesScalarMax(n: Int) {
        var rng = TestRNG(seed: UInt64(n + 11))
        for placement in 0..<3 {
            var x = rng.floats(n, scale: 50)
            for i in stride(from: 0, to: n, by: 3) { x[i] = -.infinity }
            if placement == 1 { x[n - 1] = 1e6 }
            if placement == 2 { x[0] = 1e6 }
            let got = x.withUnsafeBufferPointer { VectorMath.maxSIMD($0.baseAddress!, n) }
            #expect(got == x.max()!, "maxSIMD of \(n) values (placement \(placement)): \(got) vs \(x.max()!)")
        }
    }

    /// Both `Gemm.fewRows` kernels with k long enough to be cut into blocks (dot tiles: more than
    /// 768 columns and more than two rows of A; outer products: more than 16384 / panel width),
    /// odd sizes, strided operands; beta 0 (C starts as NaN: not read) and alpha/beta as BLAS
    /// defines them (later blocks must not apply beta again).
    @Test(arguments: [false, true], [(3, 7, 777), (16, 13, 1537), (5, 19, 4867), (4, 6, 769), (2, 5, 1600), (32, 9, 1100)])
    func fewRowsWithBlockedKMatchesReference(outer: Bool, size: (Int, Int, Int)) {
        let (m, n, k) = size
        var rng = TestRNG(seed: UInt64(m * 31 + n * 7 + k))
        let (lda, ldb, ldc) = (k + 3, k + 5, n + 2)
        let a = rng.floats(m * lda), b = rng.floats(n * ldb), c0 = rng.floats(m * ldc)
        let aDense = (0..<m).flatMap { i in a[(i * lda)..<(i * lda + k)] }
        let bDense = (0..<n).flatMap { j in b[(j * ldb)..<(j * ldb + k)] }
        let product = Reference.matmul(aDense.doubles, bDense.doubles, m: m, n: n, k: k, transposeA: false, transposeB: true)
        for (alpha, beta) in [(Float(1), Float(0)), (0.5, -2)] {
            var c = beta == 0 ? [Float](repeating: .nan, count: m * ldc) : c0
            a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
                if outer {
                    Gemm.fewRowsOuter(m: m, n: n, k: k, alpha: alpha, a: pa.baseAddress!, lda: lda, b: pb.baseAddress!,
                                      ldb: ldb, beta: beta, c: pc.baseAddress!, ldc: ldc)
                } else {
                    Gemm.fewRowsDot(m: m, n: n, k: k, alpha: alpha, a: pa.baseAddress!, lda: lda, b: pb.baseAddress!,
                                    ldb: ldb, beta: beta, c: pc.baseAddress!, ldc: ldc)
                }
            } } }
            var got: [Float] = [], want: [Double] = []
            for i in 0..<m {
                for j in 0..<n {
                    got.append(c[i * ldc + j])
                    want.append(Double(alpha) * product[i * n + j] + (beta == 0 ? 0 : Double(beta) * Double(c0[i * ldc + j])))
                }
                if beta != 0 { #expect(c[i * ldc + n] == c0[i * ldc + n], "\(outer ? "outer" : "dot") wrote past row \(i) of C") }
            }
            expectClose(got, want, atol: 1e-5 * Double(k), rtol: 1e-5, "\(outer ? "outer" : "dot") \(m)x\(n)x\(k) alpha \(alpha) beta \(beta)")
        }
    }
}
