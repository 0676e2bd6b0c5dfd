/// `C = alpha · A · B^T + beta · C` for a handful of rows of A as outer products: a decode step
/// of a batch of sequences through a Linear layer (`B` is the weight, HF `[out, in]`).
///
/// Why not the dot-product tiles of `fewRows` (GemmFewRows.swift) for every row count: those
/// keep one accumulator per output and sum its eight lanes at the end, and each pair of A rows
/// re-reads the weight tile from L1. Here the product is turned around, `C^T[n, m] = B[n, k] ·
/// A^T[k, m]`: A (a few rows) is copied once per call, transposed, into panels of 16 rows
/// (`[k, 16]`, or `[k, 8]` for a last group of at most 8); then for each step of k one float of
/// each of 6 weight rows is broadcast against 16 rows of A held in two SIMD8 registers. That is
/// 12 accumulators, 12 multiply-adds per 8 loads, no lane sums, and the weight is read from
/// memory once per call and from L1 once per group of 16 rows. Each accumulator holds 8 outputs
/// of one column of C, stored `ldc` apart.
///
/// The weight streams from memory (a decode step reads every weight once), so each tile also
/// prefetches the tile two ahead of it into L2 (its rows' slices of the current k block), a
/// cache line per step of k. k is cut into equal blocks whose panels (at most 128 KB) stay in
/// L2 beside the prefetched tiles; later blocks accumulate onto C (beta 1).
///
/// Shapes: A `[m, k]` rows `lda` apart, B `[n, k]` rows `ldb` apart, C `[m, n]` rows `ldc` apart.
extension Gemm {
    /// Weight rows per tile: 6 rows x 2 SIMD8 of A rows = 12 accumulators, plus 2 registers for
    /// A and one for the broadcast weight, within the 16 AVX2 registers.
    static let outerTile = 6

    /// Most floats of packed A^T per k block (128 KB: within L2, beside the tiles streaming
    /// through; at 16 rows a k of up to 2048 is one block).
    static let outerPanelFloats = 32_768

    /// How many tiles ahead each tile prefetches (measured on one core: 1 to 3 within noise,
    /// none about 10% slower at 16 rows).
    static let outerPrefetchTiles = 2

    public static func fewRowsOuter(
        m: Int, n: Int, k: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0, k > 0 else { return }
        precondition(m <= fewRowsLimit, "fewRowsOuter: at most \(fewRowsLimit) rows of A, found \(m)")
        // Group g covers rows 16g..<16g+16; the last group is 8 wide when it has at most 8 rows.
        let groups = (m + 15) / 16
        let lastWidth = m - 16 * (groups - 1) <= 8 ? 8 : 16
        let panelWidth = 16 * (groups - 1) + lastWidth
        let kBlocks = (k + outerPanelFloats / panelWidth - 1) / (outerPanelFloats / panelWidth)
        let kBlock = Swift.min(k, ((k + kBlocks - 1) / kBlocks + 7) / 8 * 8)
        let tiles = (n + outerTile - 1) / outerTile
        // A thread is only worth waking for about 64K multiply-adds.
        let perTile = panelWidth * outerTile * kBlock
        let chunks = Swift.max(1, Swift.min(tiles / Swift.max(1, 65_536 / perTile), 4 * Compute.threads))
        ScratchPool.shared.with(count: panelWidth * kBlock) { panel in
            var k0 = 0
            while k0 < k {
                let kLen = Swift.min(kBlock, k - k0)
                pack(a: a, lda: lda, m: m, k0: k0, kLen: kLen, groups: groups, lastWidth: lastWidth, panel: panel)
                let blockBeta = k0 == 0 ? beta : 1
                let bBlock = b + k0
                SpinningWorkers.shared.run(chunks: chunks) { chunk, _ in
                    let range = Compute.chunkRange(chunk, of: chunks, count: tiles)
                    for tile in range {
                        let row = tile * outerTile
                        let rows = Swift.min(outerTile, n - row)
                        // The tile `outerPrefetchTiles` ahead in this thread's range.
                        let ahead = tile + outerPrefetchTiles
                        var prefetch = TilePrefetch(
                            start: UnsafeRawPointer(bBlock + ahead * outerTile * ldb), rowBytes: ldb * MemoryLayout<Float>.size,
                            sliceBytes: kLen * MemoryLayout<Float>.size,
                            rows: ahead < range.upperBound ? Swift.min(outerTile, n - ahead * outerTile) : 0,
                            steps: groups * kLen)
                        for g in 0..<groups {
                            let groupPanel = panel + 16 * g * kLen
                            let cg = c + 16 * g * ldc + row
                            let valid = Swift.min(16, m - 16 * g)
                            if g < groups - 1 || lastWidth == 16 {
                                OuterTile.run(TwoVectors.self, panel: groupPanel, k: kLen, b: bBlock + row * ldb,
                                              ldb: ldb, rows: rows, alpha: alpha, beta: blockBeta, c: cg, ldc: ldc,
                                              validRows: valid, prefetch: &prefetch)
                            } else {
                                OuterTile.run(OneVector.self, panel: groupPanel, k: kLen, b: bBlock + row * ldb,
                                              ldb: ldb, rows: rows, alpha: alpha, beta: blockBeta, c: cg, ldc: ldc,
                                              validRows: valid, prefetch: &prefetch)
                            }
                        }
                        // Whatever the group loops left of the prefetch (the tile has more lines than
                        // steps of k).
                        while prefetch.step() {}
                    }
                }
                k0 += kLen
            }
        }
    }

    /// Columns [k0, k0 + kLen) of A's rows, transposed into one panel per group of 16 rows:
    /// group g at `panel + 16 g kLen`, `[kLen, width]` (width 16, or `lastWidth` for the last
    /// group), rows past m zero.
    static func pack(
        a: UnsafePointer<Float>, lda: Int, m: Int, k0: Int, kLen: Int, groups: Int, lastWidth: Int,
        panel: UnsafeMutablePointer<Float>
    ) {
        for g in 0..<groups {
            let width = g == groups - 1 ? lastWidth : 16
            let groupPanel = panel + 16 * g * kLen
            let first = 16 * g, count = Swift.min(width, m - first)
            for kk in 0..<kLen {
                let row = groupPanel + kk * width
                for i in 0..<count { row[i] = a[(first + i) * lda + k0 + kk] }
                for i in count..<width { row[i] = 0 }
            }
        }
    }
}

/// The cache lines of a tile's rows within the current k block (`rows` slices of `sliceBytes`,
/// `rowBytes` apart), fetched into L2 one line per `step`.
///
/// The lines are spread evenly over the tile's `steps` (its groups' steps of k, `tick` once per
/// step) rather than asked for back to back at its start, so that the memory system sees a steady
/// stream instead of bursts that fill its miss queues.
struct TilePrefetch {
    let start: UnsafeRawPointer
    let rowBytes: Int, sliceBytes: Int, rows: Int
    let lines: Int, steps: Int
    var row = 0, offset = 0, credit = 0

    init(start: UnsafeRawPointer, rowBytes: Int, sliceBytes: Int, rows: Int, steps: Int) {
        self.start = start
        self.rowBytes = rowBytes
        self.sliceBytes = sliceBytes
        self.rows = rows
        lines = rows * ((sliceBytes + 63) / 64)
        self.steps = Swift.max(1, steps)
    }

    /// One step of k: prefetches a line whenever its share of the lines comes due.
    @inline(__always)
    mutating func tick() {
        credit += lines
        if credit >= steps {
            credit -= steps
            _ = step()
        }
    }

    /// Prefetches the next line; false once every line was asked for.
    @inline(__always)
    mutating func step() -> Bool {
        guard row < rows else { return false }
        Prefetch.toL2(start + row * rowBytes + offset)
        offset += 64
        if offset >= sliceBytes {
            offset = 0
            row += 1
        }
        return true
    }
}

/// How many SIMD8 vectors of A rows one tile call covers, as a type, so that each count gets its
/// own specialised loop.
protocol OuterVectorCount { static var two: Bool { get } }
enum OneVector: OuterVectorCount { static var two: Bool { false } }
enum TwoVectors: OuterVectorCount { static var two: Bool { true } }

enum OuterTile {
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    /// C[r, j] = alpha · sum_kk panel[kk, r] · B[j, kk] (+ beta · C[r, j]) for r < validRows
    /// (<= 8 or 16: the panel is 8 or 16 wide), j < `rows` (<= 6). Weight rows past `rows`
    /// read row 0 again and are not stored. Ticks `prefetch` once per step of k.
    @inline(__always)
    static func run<V: OuterVectorCount>(
        _: V.Type, panel: UnsafePointer<Float>, k: Int, b: UnsafePointer<Float>, ldb: Int, rows: Int,
        alpha: Float, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, validRows: Int,
        prefetch: inout TilePrefetch
    ) {
        let two = V.two
        let width = two ? 16 : 8
        let b0 = b, b1 = rows > 1 ? b + ldb : b, b2 = rows > 2 ? b + 2 * ldb : b
        let b3 = rows > 3 ? b + 3 * ldb : b, b4 = rows > 4 ? b + 4 * ldb : b, b5 = rows > 5 ? b + 5 * ldb : b
        // s<j><v>: weight row j against A rows 8v..<8v+8 of the group.
        var s00 = SIMD8<Float>(), s10 = s00, s20 = s00, s30 = s00, s40 = s00, s50 = s00
        var s01 = s00, s11 = s00, s21 = s00, s31 = s00, s41 = s00, s51 = s00
        var p = panel
        for kk in 0..<k {
            prefetch.tick()
            let x0 = load(p), x1 = two ? load(p + 8) : x0
            var w = SIMD8<Float>(repeating: b0[kk])
            s00.addProduct(w, x0)
            if two { s01.addProduct(w, x1) }
            w = SIMD8<Float>(repeating: b1[kk])
            s10.addProduct(w, x0)
            if two { s11.addProduct(w, x1) }
            w = SIMD8<Float>(repeating: b2[kk])
            s20.addProduct(w, x0)
            if two { s21.addProduct(w, x1) }
            w = SIMD8<Float>(repeating: b3[kk])
            s30.addProduct(w, x0)
            if two { s31.addProduct(w, x1) }
            w = SIMD8<Float>(repeating: b4[kk])
            s40.addProduct(w, x0)
            if two { s41.addProduct(w, x1) }
            w = SIMD8<Float>(repeating: b5[kk])
            s50.addProduct(w, x0)
            if two { s51.addProduct(w, x1) }
            p += width
        }
        let first = Swift.min(8, validRows), second = validRows - 8
        columns(s00, s10, s20, s30, s40, s50, c, ldc: ldc, rows: rows, count: first, alpha: alpha, beta: beta)
        if two && second > 0 {
            columns(s01, s11, s21, s31, s41, s51, c + 8 * ldc, ldc: ldc, rows: rows, count: second, alpha: alpha, beta: beta)
        }
    }

    /// Columns 0..<rows of C (each `count` floats `ldc` apart from `c + j`) from the lanes of
    /// s0...s5; columns past `rows` hold sums over weight row 0 again and are not stored.
    @inline(__always)
    static func columns(
        _ s0: SIMD8<Float>, _ s1: SIMD8<Float>, _ s2: SIMD8<Float>, _ s3: SIMD8<Float>, _ s4: SIMD8<Float>,
        _ s5: SIMD8<Float>, _ c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, count: Int, alpha: Float, beta: Float
    ) {
        column(s0, c, ldc: ldc, count: count, alpha: alpha, beta: beta)
        if rows > 1 { column(s1, c + 1, ldc: ldc, count: count, alpha: alpha, beta: beta) }
        if rows > 2 { column(s2, c + 2, ldc: ldc, count: count, alpha: alpha, beta: beta) }
        if rows > 3 { column(s3, c + 3, ldc: ldc, count: count, alpha: alpha, beta: beta) }
        if rows > 4 { column(s4, c + 4, ldc: ldc, count: count, alpha: alpha, beta: beta) }
        if rows > 5 { column(s5, c + 5, ldc: ldc, count: count, alpha: alpha, beta: beta) }
    }

    /// One column of C (`count` floats `ldc` apart from `c`) from the lanes of `s`. With beta 0,
    /// C is written without being read (it may hold anything, NaN included).
    @inline(__always)
    static func column(
        _ s: SIMD8<Float>, _ c: UnsafeMutablePointer<Float>, ldc: Int, count: Int, alpha: Float, beta: Float
    ) {
        let v = s * alpha
        if beta == 0 {
            for r in 0..<count { c[r * ldc] = v[r] }
        } else {
            for r in 0..<count { c[r * ldc] = v[r] + beta * c[r * ldc] }
        }
    }
}
