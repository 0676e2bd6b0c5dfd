import Testing
import TestSupport
@testable import Tensors

/// Tolerance: Float32 accumulation over k terms of size ~1: atol 1e-5 * k.
@Suite struct GemmTests {
    static let transposes = [(false, false), (false, true), (true, false), (true, true)]

    @Test(arguments: [(1, 1, 1), (7, 33, 1), (33, 7, 257), (257, 33, 7), (1, 257, 33), (65, 130, 200)])
    func forwardAndBackwardMatchReference(m: Int, n: Int, k: Int) throws {
        var rng = TestRNG(seed: UInt64(m * 1_000_003 + n * 1009 + k))
        for (ta, tb) in Self.transposes {
            let a = try Tensor(shape: ta ? [k, m] : [m, k], scalars: rng.floats(m * k))
            let b = try Tensor(shape: tb ? [n, k] : [k, n], scalars: rng.floats(k * n))
            let dC = try Tensor(shape: [m, n], scalars: rng.floats(m * n))
            let tol = 1e-5 * Double(k)
            let c = try Gemm.matmul(a, b, transposeA: ta, transposeB: tb)
            let ref = Reference.matmul(a.scalars.doubles, b.scalars.doubles, m: m, n: n, k: k, transposeA: ta, transposeB: tb)
            expectClose(c.scalars, ref, atol: tol, rtol: 1e-5, "matmul \(m)x\(n)x\(k) tA=\(ta) tB=\(tb)")

            let (dA, dB) = try Gemm.matmulBackward(dC, a, b, transposeA: ta, transposeB: tb)
            let (rA, rB) = Reference.matmulBackward(dC.scalars.doubles, a.scalars.doubles, b.scalars.doubles,
                                                    m: m, n: n, k: k, transposeA: ta, transposeB: tb)
            expectClose(dA.scalars, rA, atol: 1e-5 * Double(n), rtol: 1e-5, "dA \(m)x\(n)x\(k) tA=\(ta) tB=\(tb)")
            expectClose(dB.scalars, rB, atol: 1e-5 * Double(m), rtol: 1e-5, "dB \(m)x\(n)x\(k) tA=\(ta) tB=\(tb)")
        }
    }

    @Test func referenceBackwardMatchesFiniteDifferences() {
        var rng = TestRNG(seed: 7)
        let (m, n, k) = (3, 4, 5)
        for (ta, tb) in Self.transposes {
            let a = rng.floats(m * k).doubles, b = rng.floats(k * n).doubles, w = rng.floats(m * n).doubles
            let (dA, dB) = Reference.matmulBackward(w, a, b, m: m, n: n, k: k, transposeA: ta, transposeB: tb)
            let fdA = finiteDifferenceGradient(a, weights: w) {
                Reference.matmul($0, b, m: m, n: n, k: k, transposeA: ta, transposeB: tb)
            }
            let fdB = finiteDifferenceGradient(b, weights: w) {
                Reference.matmul(a, $0, m: m, n: n, k: k, transposeA: ta, transposeB: tb)
            }
            expectClose(dA, fdA, atol: 1e-8, rtol: 1e-7, "FD dA tA=\(ta) tB=\(tb)")
            expectClose(dB, fdB, atol: 1e-8, rtol: 1e-7, "FD dB tA=\(ta) tB=\(tb)")
        }
    }

    @Test func batchedEqualsEachProductAndSharedOperandSumsGradients() throws {
        var rng = TestRNG(seed: 11)
        let (batch, m, n, k) = (3, 7, 5, 33)
        let a = try Tensor(shape: [batch, m, k], scalars: rng.floats(batch * m * k))
        let shared = try Tensor(shape: [k, n], scalars: rng.floats(k * n))
        let perBatch = try Tensor(shape: [batch, k, n], scalars: rng.floats(batch * k * n))
        let dC = try Tensor(shape: [batch, m, n], scalars: rng.floats(batch * m * n))
        for b in [shared, perBatch] {
            let c = try Gemm.matmul(a, b)
            let (dA, dB) = try Gemm.matmulBackward(dC, a, b)
            var refDB = [Double](repeating: 0, count: b.count)
            for i in 0..<batch {
                let ai = Array(a.scalars[i * m * k..<(i + 1) * m * k]).doubles
                let bi = b.rank == 3 ? Array(b.scalars[i * k * n..<(i + 1) * k * n]).doubles : b.scalars.doubles
                let dci = Array(dC.scalars[i * m * n..<(i + 1) * m * n]).doubles
                let ref = Reference.matmul(ai, bi, m: m, n: n, k: k, transposeA: false, transposeB: false)
                expectClose(Array(c.scalars[i * m * n..<(i + 1) * m * n]), ref, atol: 1e-4, rtol: 1e-5, "batch \(i)")
                let (rA, rB) = Reference.matmulBackward(dci, ai, bi, m: m, n: n, k: k, transposeA: false, transposeB: false)
                expectClose(Array(dA.scalars[i * m * k..<(i + 1) * m * k]), rA, atol: 1e-4, rtol: 1e-5, "dA batch \(i)")
                let offset = b.rank == 3 ? i * k * n : 0
                for j in rB.indices { refDB[offset + j] += rB[j] }
            }
            expectClose(dB.scalars, refDB, atol: 1e-4, rtol: 1e-5, "dB (rank \(b.rank) B)")
        }
    }

    @Test func accumulateAddsToExistingOutput() throws {
        var rng = TestRNG(seed: 3)
        let (m, n, k) = (7, 33, 257)
        let a = rng.floats(m * k), b = rng.floats(k * n)
        var c = rng.floats(m * n)
        let before = c.doubles
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
            Gemm.compute(transposeA: false, transposeB: false, m: m, n: n, k: k, alpha: 0.5,
                         a: pa.baseAddress!, b: pb.baseAddress!, beta: 1, c: pc.baseAddress!)
        } } }
        let product = Reference.matmul(a.doubles, b.doubles, m: m, n: n, k: k, transposeA: false, transposeB: false)
        expectClose(c, zip(before, product).map { $0 + 0.5 * $1 }, atol: 1e-4, rtol: 1e-5, "C += 0.5 AB")
    }

    @Test func shapeMismatchNamesBothShapes() throws {
        let a = Tensor(zeros: [2, 3]), b = Tensor(zeros: [4, 5])
        let error = #expect(throws: TensorError.self) { try Gemm.matmul(a, b) }
        #expect(error?.op == "matmul")
        #expect(error?.message.contains("[2, 3]") == true && error?.message.contains("[4, 5]") == true)
        #expect(throws: TensorError.self) { try Gemm.matmul(Tensor(zeros: [2, 3, 4]), Tensor(zeros: [3, 4, 2])) }
        #expect(throws: TensorError.self) { try Gemm.matmul(Tensor(zeros: [3]), Tensor(zeros: [3, 1])) }
        #expect(throws: TensorError.self) { try Gemm.matmulBackward(Tensor(zeros: [2, 2]), a, Tensor(zeros: [3, 5])) }
    }
}
