import COpenBLAS

/// Matrix products through `cblas_sgemm` (row-major); `A · B^T` with at most `fewRowsLimit` rows
/// of A (a decode step's Linear layers) through our own `fewRows` kernel instead.
///
/// `C[m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * C`, where `op(X)` is `X` or `X^T`.
/// Stored shapes: A is `[m, k]` (or `[k, m]` when transposed), B is `[k, n]` (or `[n, k]`).
/// `beta = 1` accumulates into C, which is how every backward adds into existing gradients.
public enum Gemm {
    public static func compute(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
        beta: Float = 0, c: UnsafeMutablePointer<Float>
    ) {
        guard m > 0, n > 0 else { return }
        guard k > 0 else {
            // An empty inner dimension is a sum of nothing: C = beta * C (sgemm may skip it).
            for i in 0..<(m * n) { c[i] = beta == 0 ? 0 : beta * c[i] }
            return
        }
        if !transposeA && transposeB && m <= fewRowsLimit {
            // A Linear layer over a decode step: see GemmFewRows.swift.
            fewRows(m: m, n: n, k: k, alpha: alpha, a: a, lda: k, b: b, ldb: k, beta: beta, c: c, ldc: n)
            return
        }
        if m == 1 {
            // One row (decoding one sequence through a GPT-2 Conv1D weight, or op(A) transposed):
            // a matrix-vector product. OpenBLAS 0.3.21's sgemm packs all of B first, reading the
            // weights twice per token. op(A) is a contiguous vector either way (A is [1, k] or [k, 1]).
            cblas_sgemv(CblasRowMajor, transposeB ? CblasNoTrans : CblasTrans,
                        Int32(transposeB ? n : k), Int32(transposeB ? k : n), alpha,
                        b, Int32(transposeB ? k : n), a, 1, beta, c, 1)
            return
        }
        cblas_sgemm(
            CblasRowMajor,
            transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha,
            a, Int32(transposeA ? m : k), b, Int32(transposeB ? k : n),
            beta, c, Int32(n))
    }

    /// As `compute`, over matrices whose rows are `lda`, `ldb`, `ldc` floats apart (a head's slice
    /// of a `[tokens, heads, headDim]` activation, say: leading dimension heads * headDim).
    public static func strided(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        guard k > 0 else {
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
            return
        }
        if !transposeA && transposeB && m <= fewRowsLimit {
            fewRows(m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        cblas_sgemm(
            CblasRowMajor,
            transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// `batch` independent products over consecutive `[m, k]`, `[k, n]`, `[m, n]` blocks.
    /// A stride of 0 for A or B reuses one matrix for every batch entry (broadcast).
    public static func batched(
        batch: Int, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, strideA: Int,
        b: UnsafePointer<Float>, strideB: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, strideC: Int
    ) {
        for i in 0..<batch {
            compute(
                transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                a: a + i * strideA, b: b + i * strideB, beta: beta, c: c + i * strideC)
        }
    }

    /// Gradients of `C = op(A) * op(B)` given `dC[m, n]`, accumulated (`+=`) into `dA` and `dB`
    /// (same stored shapes as A and B). Pass nil to skip one.
    public static func backward(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        dC: UnsafePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
        dA: UnsafeMutablePointer<Float>?, dB: UnsafeMutablePointer<Float>?
    ) {
        if let dA {
            if !transposeA {
                // dA[m, k] = dC[m, n] * op(B)^T
                compute(transposeA: false, transposeB: !transposeB, m: m, n: k, k: n,
                        a: dC, b: b, beta: 1, c: dA)
            } else {
                // dA[k, m] = op(B)[k, n] * dC^T
                compute(transposeA: transposeB, transposeB: true, m: k, n: m, k: n,
                        a: b, b: dC, beta: 1, c: dA)
            }
        }
        if let dB {
            if !transposeB {
                // dB[k, n] = op(A)^T * dC
                compute(transposeA: !transposeA, transposeB: false, m: k, n: n, k: m,
                        a: a, b: dC, beta: 1, c: dB)
            } else {
                // dB[n, k] = dC^T * op(A)
                compute(transposeA: true, transposeB: transposeA, m: n, n: k, k: m,
                        a: dC, b: a, beta: 1, c: dB)
            }
        }
    }
}

extension Gemm {
    /// The `[m, k]`, `[k, n]` sizes of a (possibly batched) product, checked.
    /// Rank 2 operands, or rank 3 with equal batch sizes, or rank 3 A with a rank 2 B (shared).
    struct Plan {
        var batch: Int, m: Int, n: Int, k: Int
        var strideA: Int, strideB: Int
        var outShape: [Int]
    }

    static func plan(_ a: Tensor, _ b: Tensor, transposeA: Bool, transposeB: Bool) throws -> Plan {
        let op = "matmul"
        try Check.that(
            (a.rank == 2 || a.rank == 3) && (b.rank == 2 || b.rank == 3) && !(a.rank == 2 && b.rank == 3),
            op: op, "expected A and B of rank 2, or rank 3 A with rank 2 or 3 B, found A \(a.shape) and B \(b.shape)")
        let batch = a.rank == 3 ? a.shape[0] : 1
        if b.rank == 3 {
            try Check.that(b.shape[0] == batch, op: op,
                           "batch sizes differ: A \(a.shape) and B \(b.shape)")
        }
        let (ar, ac) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
        let (br, bc) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
        let (m, k) = transposeA ? (ac, ar) : (ar, ac)
        let (kb, n) = transposeB ? (bc, br) : (br, bc)
        try Check.that(k == kb, op: op,
                       "inner dimensions differ: op(A) is [\(m), \(k)] from A \(a.shape)\(transposeA ? "^T" : ""), op(B) is [\(kb), \(n)] from B \(b.shape)\(transposeB ? "^T" : "")")
        return Plan(batch: batch, m: m, n: n, k: k, strideA: m * k, strideB: b.rank == 3 ? k * n : 0,
                    outShape: a.rank == 3 ? [batch, m, n] : [m, n])
    }

    /// `op(A) * op(B)`; rank-3 operands are batched (see `plan`).
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) throws -> Tensor {
        let p = try plan(a, b, transposeA: transposeA, transposeB: transposeB)
        var c = Tensor(zeros: p.outShape)
        a.withPointer { pa in b.withPointer { pb in c.withMutablePointer { pc in
            batched(batch: p.batch, transposeA: transposeA, transposeB: transposeB, m: p.m, n: p.n, k: p.k,
                    a: pa, strideA: p.strideA, b: pb, strideB: p.strideB, c: pc, strideC: p.m * p.n)
        } } }
        return c
    }

    /// `(dA, dB)` for `C = op(A) * op(B)` given `dC`; a shared rank-2 B sums over the batch.
    public static func matmulBackward(
        _ dC: Tensor, _ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false
    ) throws -> (dA: Tensor, dB: Tensor) {
        let p = try plan(a, b, transposeA: transposeA, transposeB: transposeB)
        try Check.that(dC.shape == p.outShape, op: "matmulBackward",
                       "expected dC of shape \(p.outShape) for A \(a.shape) and B \(b.shape), found \(dC.shape)")
        var dA = Tensor(zeros: a.shape), dB = Tensor(zeros: b.shape)
        dC.withPointer { pdc in a.withPointer { pa in b.withPointer { pb in
            dA.withMutablePointer { pda in dB.withMutablePointer { pdb in
                for i in 0..<p.batch {
                    backward(transposeA: transposeA, transposeB: transposeB, m: p.m, n: p.n, k: p.k,
                             dC: pdc + i * p.m * p.n, a: pa + i * p.strideA, b: pb + i * p.strideB,
                             dA: pda + i * p.strideA, dB: pdb + i * p.strideB)
                }
            } }
        } } }
        return (dA, dB)
    }
}
