/// `C = alpha · A · B^T + beta · C` for few rows of A: a Linear layer (`B` is the weight, HF
/// `[out, in]` row-major) applied to one decode step of a batch of sequences.
///
/// Why not `cblas_sgemm`: OpenBLAS re-packs B into panels on every call, and with few rows of A
/// that copy costs as much as the product (a quarter of a one-thread decode step of a
/// SmolLM2-sized model). Packing once at load would keep a second copy of every weight that the
/// optimiser would have to refresh after each step. This kernel reads B in its `Parameters`
/// layout instead, each row once per call: a tile of 6 rows of B stays in L1 while every pair of
/// rows of A passes over it, and each output is a dot product along k (SIMD8 lanes, one
/// accumulator per output, summed across lanes at the end).
///
/// With more than two rows of A, each tile is read from memory by the first pair and from cache
/// by the others, and memory would idle meanwhile: so the passes over a tile also prefetch the
/// next tile into L2, a slice per pass, one cache line per step of k (measured here: 10-35%
/// faster at 4 to 32 rows when the weight comes from memory; no gain at 1 or 2 rows, where the
/// hardware prefetcher already streams it).
///
/// Shapes: A `[m, k]` rows `lda` apart, B `[n, k]` rows `ldb` apart, C `[m, n]` rows `ldc` apart.
/// Work is split over tiles of B's rows, so that every thread streams its own part of the weight,
/// on `SpinningWorkers` (a call lasts tens of microseconds, less than waking a Dispatch worker).
extension Gemm {
    /// `compute` takes this kernel for `A · B^T` when A has at most this many rows; above it,
    /// OpenBLAS's packing pays for itself (`treerpo bench kernels` measures both sides).
    public static let fewRowsLimit = 32

    /// Rows of B per tile: 6 rows x 2 rows of A = 12 SIMD8 accumulators, plus 2 for A and one
    /// for B, fill the 16 AVX2 registers without spilling.
    static let fewRowsTile = 6

    /// Most columns of k per pass over a tile when A has more than two rows (see `fewRows`).
    static let fewRowsKBlock = 512

    /// Rows of A for which `fewRows` takes the outer-product kernel (GemmFewRowsOuter.swift);
    /// other counts take these dot-product tiles. Measured with `treerpo bench kernels` (one
    /// core, weight from memory): outer is 10-25% faster at 16 rows, a few percent slower at 8
    /// and from 24, where its 8-row groups waste lanes or the dot tiles reuse enough.
    public static let outerRows = 9...16

    /// `C = alpha · A · B^T + beta · C` for at most `fewRowsLimit` rows of A, by whichever of
    /// the two kernels suits m.
    public static func fewRows(
        m: Int, n: Int, k: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if outerRows.contains(m) {
            fewRowsOuter(m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        } else {
            fewRowsDot(m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        }
    }

    /// The dot-product tiles described above.
    public static func fewRowsDot(
        m: Int, n: Int, k: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        let tiles = (n + fewRowsTile - 1) / fewRowsTile
        // A thread is only worth waking for about 64K multiply-adds.
        let perTile = m * fewRowsTile * Swift.max(k, 1)
        let passes = (m + 1) / 2
        // With more than two rows of A, a long k is cut into blocks of at most `fewRowsKBlock`
        // columns (a multiple of 8), so that the tile's slice of B (6 x 512 floats, 12 KB) stays
        // in L1 while every pair of A rows passes over it; a whole 6-row tile of a k = 1536 or
        // 4864 weight (SmolLM2's, Qwen2.5-0.5B's down projection) does not fit in L1 and was
        // read from L2 by every pass. Later blocks accumulate onto C (beta 1).
        let kBlocks = passes > 1 && k > fewRowsKBlock + fewRowsKBlock / 2 ? (k + fewRowsKBlock - 1) / fewRowsKBlock : 1
        let kBlock = kBlocks == 1 ? k : ((k + kBlocks - 1) / kBlocks + 7) / 8 * 8
        let totalPasses = passes * kBlocks
        // A few chunks per thread, claimed as threads become free (see SpinningWorkers).
        let chunks = Swift.min(tiles / Swift.max(1, 65_536 / perTile), 4 * Compute.threads)
        SpinningWorkers.shared.run(chunks: Swift.max(1, chunks)) { chunk, _ in
            let range = Compute.chunkRange(chunk, of: Swift.max(1, chunks), count: tiles)
            for tile in range {
                let row = tile * fewRowsTile
                let rows = Swift.min(fewRowsTile, n - row)
                // The next tile of this thread's range: bytes [0, span) from `next`.
                let next = UnsafeRawPointer(b + (row + fewRowsTile) * ldb)
                var span = 0
                if totalPasses > 1 && tile + 1 < range.upperBound {
                    let nextRows = Swift.min(fewRowsTile, n - row - fewRowsTile)
                    span = ((nextRows - 1) * ldb + k) * MemoryLayout<Float>.size
                }
                var pass = 0
                for kb in 0..<kBlocks {
                    // Columns [k0, k1) of this tile's B rows, reused by every pair of A rows.
                    let k0 = kb * kBlock, k1 = Swift.min(k, k0 + kBlock)
                    if k0 >= k { break }  // rounding kBlock up to 8 can leave nothing for the last
                    let blockBeta = kb == 0 ? beta : 1
                    var i = 0
                    while i < m {
                        let from = next + span * pass / totalPasses, to = next + span * (pass + 1) / totalPasses
                        if i + 2 <= m {
                            FewRowsTile.run(TwoRows.self, a: a + i * lda + k0, lda: lda, b: b + row * ldb + k0, ldb: ldb,
                                            rows: rows, k: k1 - k0, alpha: alpha, beta: blockBeta, c: c + i * ldc + row,
                                            ldc: ldc, prefetch: from, prefetchEnd: to)
                            i += 2
                        } else {
                            FewRowsTile.run(OneRow.self, a: a + i * lda + k0, lda: lda, b: b + row * ldb + k0, ldb: ldb,
                                            rows: rows, k: k1 - k0, alpha: alpha, beta: blockBeta, c: c + i * ldc + row,
                                            ldc: ldc, prefetch: from, prefetchEnd: to)
                            i += 1
                        }
                        pass += 1
                    }
                }
            }
        }
    }
}

/// How many rows of A one tile call covers, as a type, so that each count gets its own
/// specialised copy of the loop (a runtime count would keep a branch inside it).
protocol TileRowCount { static var rows: Int { get } }
enum OneRow: TileRowCount { static var rows: Int { 1 } }
enum TwoRows: TileRowCount { static var rows: Int { 2 } }

enum FewRowsTile {
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD8<Float> {
        UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
    }

    /// C[r, j] = alpha · dot(A[r, :], B[j, :]) (+ beta · C[r, j]) for r < R.rows, j < `rows` (<= 6).
    /// Rows of B past `rows` read row 0 again (valid memory) and are not stored.
    @inline(__always)
    static func run<R: TileRowCount>(
        _: R.Type, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, rows: Int,
        k: Int, alpha: Float, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
        prefetch: UnsafeRawPointer, prefetchEnd: UnsafeRawPointer
    ) {
        let two = R.rows == 2
        var line = prefetch
        let a0 = a, a1 = two ? a + lda : a
        let b0 = b, b1 = rows > 1 ? b + ldb : b, b2 = rows > 2 ? b + 2 * ldb : b
        let b3 = rows > 3 ? b + 3 * ldb : b, b4 = rows > 4 ? b + 4 * ldb : b, b5 = rows > 5 ? b + 5 * ldb : b
        // s<j><r>: B row j against A row r.
        var s00 = SIMD8<Float>(), s10 = s00, s20 = s00, s30 = s00, s40 = s00, s50 = s00
        var s01 = s00, s11 = s00, s21 = s00, s31 = s00, s41 = s00, s51 = s00
        var i = 0
        while i + 8 <= k {
            // One row of B in a register at a time, used by both rows of A (loading all six
            // first would need 20 registers).
            if line < prefetchEnd {
                Prefetch.toL2(line)
                line += 64
            }
            let x0 = load(a0, i), x1 = two ? load(a1, i) : x0
            var w = load(b0, i)
            s00.addProduct(w, x0)
            if two { s01.addProduct(w, x1) }
            w = load(b1, i)
            s10.addProduct(w, x0)
            if two { s11.addProduct(w, x1) }
            w = load(b2, i)
            s20.addProduct(w, x0)
            if two { s21.addProduct(w, x1) }
            w = load(b3, i)
            s30.addProduct(w, x0)
            if two { s31.addProduct(w, x1) }
            w = load(b4, i)
            s40.addProduct(w, x0)
            if two { s41.addProduct(w, x1) }
            w = load(b5, i)
            s50.addProduct(w, x0)
            if two { s51.addProduct(w, x1) }
            i += 8
        }
        while line < prefetchEnd {
            Prefetch.toL2(line)
            line += 64
        }
        var r0 = SIMD8<Float>(s00.sum(), s10.sum(), s20.sum(), s30.sum(), s40.sum(), s50.sum(), 0, 0)
        var r1 = two ? SIMD8<Float>(s01.sum(), s11.sum(), s21.sum(), s31.sum(), s41.sum(), s51.sum(), 0, 0) : r0
        // The last k % 8 terms (odd sizes only: model dimensions are multiples of 8).
        while i < k {
            let w = SIMD8<Float>(b0[i], b1[i], b2[i], b3[i], b4[i], b5[i], 0, 0)
            r0 += w * a0[i]
            if two { r1 += w * a1[i] }
            i += 1
        }
        store(r0, c, rows: rows, alpha: alpha, beta: beta)
        if two { store(r1, c + ldc, rows: rows, alpha: alpha, beta: beta) }
    }

    /// With beta 0, C is written without being read (it may hold anything, NaN included).
    @inline(__always)
    static func store(_ r: SIMD8<Float>, _ c: UnsafeMutablePointer<Float>, rows: Int, alpha: Float, beta: Float) {
        if beta == 0 {
            for j in 0..<rows { c[j] = alpha * r[j] }
        } else {
            for j in 0..<rows { c[j] = alpha * r[j] + beta * c[j] }
        }
    }
}
