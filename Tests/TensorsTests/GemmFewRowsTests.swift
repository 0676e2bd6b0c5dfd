import Testing
import TestSupport
@testable import Tensors

/// The kernels behind `Gemm.fewRows` (A · B^T for few rows of A), each on its own, against
/// `Reference.matmul` in Double, on sizes that hit every edge of their tiling: one or two rows of
/// A per dot tile, 8- and 16-row groups of the outer kernel (full, partial, a last group of at
/// most 8), 1 to 6 rows of B per tile, k below, at and past a multiple of the 8 SIMD lanes.
/// Tolerance as GemmTests: atol 1e-5 * k.
@Suite struct GemmFewRowsTests {
    enum Kernel: String, CaseIterable, CustomTestStringConvertible {
        case dispatch, dot, outer
        var testDescription: String { rawValue }

        func callAsFunction(
            m: Int, n: Int, k: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>,
            ldb: Int, beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
        ) {
            switch self {
            case .dispatch: Gemm.fewRows(m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            case .dot: Gemm.fewRowsDot(m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            case .outer: Gemm.fewRowsOuter(m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            }
        }
    }

    static let sizes = [
        (1, 1, 1), (1, 7, 33), (2, 6, 8), (3, 5, 9), (7, 33, 1), (7, 13, 257), (8, 61, 40), (9, 19, 17),
        (16, 257, 33), (17, 12, 64), (24, 37, 24), (25, 13, 31), (32, 7, 130),
    ]

    @Test(arguments: Kernel.allCases, sizes)
    func matchesReference(kernel: Kernel, size: (Int, Int, Int)) {
        let (m, n, k) = size
        var rng = TestRNG(seed: UInt64(m * 7919 + n * 104_729 + k))
        let a = rng.floats(m * k), b = rng.floats(n * k)
        // beta 0 must not read C: start from NaN.
        var c = [Float](repeating: .nan, count: m * n)
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
            kernel(m: m, n: n, k: k, a: pa.baseAddress!, lda: k, b: pb.baseAddress!, ldb: k, c: pc.baseAddress!, ldc: n)
        } } }
        let ref = Reference.matmul(a.doubles, b.doubles, m: m, n: n, k: k, transposeA: false, transposeB: true)
        expectClose(c, ref, atol: 1e-5 * Double(k), rtol: 1e-5, "\(kernel) \(m)x\(n)x\(k)")
    }

    /// alpha and beta as BLAS defines them, over strided operands (a slice of wider rows), and
    /// nothing written outside the m x n block of C.
    @Test(arguments: Kernel.allCases, [(5, 13, 37), (2, 6, 8), (1, 9, 300), (20, 11, 45)])
    func alphaBetaAndLeadingDimensions(kernel: Kernel, size: (Int, Int, Int)) {
        let (m, n, k) = size
        var rng = TestRNG(seed: UInt64(m + n + k))
        let (lda, ldb, ldc) = (k + 3, k + 5, n + 2)
        let a = rng.floats(m * lda), b = rng.floats(n * ldb)
        let c0 = rng.floats(m * ldc)
        var c = c0
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
            kernel(m: m, n: n, k: k, alpha: 0.5, a: pa.baseAddress!, lda: lda, b: pb.baseAddress!, ldb: ldb,
                   beta: -2, c: pc.baseAddress!, ldc: ldc)
        } } }
        let aDense = (0..<m).flatMap { i in a[(i * lda)..<(i * lda + k)] }
        let bDense = (0..<n).flatMap { j in b[(j * ldb)..<(j * ldb + k)] }
        let product = Reference.matmul(aDense.doubles, bDense.doubles, m: m, n: n, k: k, transposeA: false, transposeB: true)
        var expected = c0.doubles
        for i in 0..<m {
            for j in 0..<n { expected[i * ldc + j] = 0.5 * product[i * n + j] - 2 * Double(c0[i * ldc + j]) }
        }
        expectClose(c, expected, atol: 1e-5 * Double(k), rtol: 1e-5, "\(kernel): 0.5 A B^T - 2 C, \(m)x\(n)x\(k) strided")
    }

    /// `Gemm.compute` takes the kernel up to `fewRowsLimit` rows and OpenBLAS above; both sides
    /// of the limit agree with the reference, accumulating (beta 1) as Linear's residual add does.
    @Test func computeOnBothSidesOfTheLimit() {
        for m in [Gemm.fewRowsLimit, Gemm.fewRowsLimit + 1] {
            var rng = TestRNG(seed: UInt64(m))
            let (n, k) = (19, 45)
            let a = rng.floats(m * k), b = rng.floats(n * k), c0 = rng.floats(m * n)
            var c = c0
            a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
                Gemm.compute(transposeA: false, transposeB: true, m: m, n: n, k: k, a: pa.baseAddress!,
                             b: pb.baseAddress!, beta: 1, c: pc.baseAddress!)
            } } }
            let product = Reference.matmul(a.doubles, b.doubles, m: m, n: n, k: k, transposeA: false, transposeB: true)
            expectClose(c, zip(c0, product).map { Double($0) + $1 }, atol: 1e-5 * Double(k), rtol: 1e-5, "C += A B^T, m = \(m)")
        }
    }
}
