import COpenBLAS
import Foundation
import Tensors

/// `treerpo bench kernels`: the matrix product through our wrapper next to a direct
/// `cblas_sgemm` call measured in the same run (they should match: the wrapper must add
/// nothing), and the throughput of the non-BLAS kernels on transformer-sized inputs.
public enum KernelBenchmark {
    public struct GemmRow: Sendable {
        public var m: Int, n: Int, k: Int
        public var oursGflops: Double, openblasGflops: Double
        public var ratio: Double { oursGflops / openblasGflops }
    }

    public struct KernelRow: Sendable {
        public var name: String
        public var shape: String
        public var seconds: Double
        /// What the rate counts ("GFLOP/s", "GB/s", "tokens/s") and its value.
        public var unit: String, rate: Double
    }

    /// (m, n, k): square sizes, then the products of a SmolLM2-135M-shaped layer
    /// (hidden 576, MLP 1536) at decode batch 16 and at a 256- and 2048-token prefill.
    public static let gemmSizes = [
        (64, 64, 64), (256, 256, 256), (512, 512, 512), (1024, 1024, 1024),
        (16, 1536, 576), (256, 1536, 576), (2048, 576, 1536),
    ]

    /// OpenBLAS's best rate over `gemmSizes` in this process at its current threads: the ceiling
    /// that `bench train`, `bench sample` and tools/bench_step.py's floating-point bound divide by.
    public static func sgemmPeakGflops(rounds: Int) -> Double {
        gemm(rounds: rounds).map(\.openblasGflops).max() ?? 0
    }

    public static func gemm(rounds: Int, sizes: [(Int, Int, Int)] = gemmSizes) -> [GemmRow] {
        var rng = BenchRNG(seed: 1)
        return sizes.map { m, n, k in
            let a = rng.floats(m * k), b = rng.floats(k * n)
            var c1 = [Float](repeating: 0, count: m * n), c2 = c1
            let (ours, blas) = a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in
                c1.withUnsafeMutableBufferPointer { p1 in c2.withUnsafeMutableBufferPointer { p2 in
                    Stopwatch.alternating(rounds: rounds, {
                        Gemm.compute(transposeA: false, transposeB: true, m: m, n: n, k: k,
                                     a: pa.baseAddress!, b: pb.baseAddress!, c: p1.baseAddress!)
                    }, {
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k),
                                    1, pa.baseAddress!, Int32(k), pb.baseAddress!, Int32(k), 0, p2.baseAddress!, Int32(n))
                    })
                } }
            } }
            let flops = 2.0 * Double(m) * Double(n) * Double(k)
            return GemmRow(m: m, n: n, k: k, oursGflops: flops / ours / 1e9, openblasGflops: flops / blas / 1e9)
        }
    }

    /// Memory read bandwidth at the current threads, GB/s: the median of `rounds` sums over
    /// `megabytes` of floats (far larger than the caches), each thread summing its own part.
    public static func memoryReadGBps(megabytes: Int = 256, rounds: Int = 5) -> Double {
        let count = megabytes << 18
        let x = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { x.deallocate() }
        x.initialize(repeating: 1, count: count)
        let parts = WorkerSlots<Float>(Compute.threads, initial: 0)
        let seconds = Stopwatch.median(rounds: rounds) {
            Compute.parallelFor(Compute.threads) { range in
                for t in range {
                    let piece = Compute.chunkRange(t, of: Compute.threads, count: count)
                    parts[t] = VectorMath.sum(x + piece.lowerBound, piece.count)
                }
            }
        }
        return Double(count * 4) / seconds / 1e9
    }

    /// (m, n, k) of `A[m, k] · W[n, k]^T` as a decode step runs them: SmolLM2-135M's q/o, k/v,
    /// gate/up and down projections and its 49,152-row head at batch 1 and 16, Qwen2.5-0.5B's
    /// MLP and 151,936-row head at batch 16, the MLP up projection at 2 to 24 rows (a tree's
    /// levels), and 32 and 64 rows around `Gemm.fewRowsLimit`.
    public static let fewRowsSizes = [
        (1, 576, 576), (1, 1536, 576), (1, 576, 1536), (1, 49_152, 576),
        (2, 1536, 576), (4, 1536, 576), (8, 1536, 576), (12, 1536, 576),
        (16, 576, 576), (16, 192, 576), (16, 1536, 576), (16, 576, 1536), (16, 49_152, 576),
        (16, 4864, 896), (16, 896, 4864), (16, 151_936, 896), (20, 1536, 576), (24, 1536, 576), (32, 1536, 576), (64, 1536, 576),
    ]

    public struct FewRowsRow: Sendable {
        public var m: Int, n: Int, k: Int
        /// `Gemm.fewRowsDot` and `Gemm.fewRowsOuter` (nil above `fewRowsLimit` rows, where `Gemm`
        /// calls OpenBLAS), and OpenBLAS.
        public var dotGflops: Double?, outerGflops: Double?, openblasGflops: Double
        /// The kernel `Gemm.fewRows` picks for m rows, over OpenBLAS.
        public var ratio: Double {
            guard let dotGflops, let outerGflops else { return 1 }
            return (Gemm.outerRows.contains(m) ? outerGflops : dotGflops) / openblasGflops
        }
    }

    /// `Gemm.fewRowsDot` and `Gemm.fewRowsOuter` next to OpenBLAS (`cblas_sgemv` for one row, as
    /// `Gemm` used before, else `cblas_sgemm`) on the same inputs, alternated. Each call reads the
    /// next of enough copies of W to fill 64 MB, so W comes from memory, not from the cache, as
    /// every weight does in a decode step.
    public static func fewRows(rounds: Int, sizes: [(Int, Int, Int)] = fewRowsSizes) -> [FewRowsRow] {
        var rng = BenchRNG(seed: 3)
        return sizes.map { m, n, k in
            let copies = max(1, 16 << 20 / (n * k))
            let a = rng.floats(m * k), w = rng.floats(copies * n * k)
            var c = [Float](repeating: 0, count: m * n)
            let ours = m <= Gemm.fewRowsLimit
            let times = a.withUnsafeBufferPointer { pa in w.withUnsafeBufferPointer { pw in
                c.withUnsafeMutableBufferPointer { pc in
                    let a = pa.baseAddress!, w = pw.baseAddress!, c = pc.baseAddress!
                    // Every copy once per timed run, so every side reads the same bytes.
                    let dot = {
                        for i in 0..<copies { Gemm.fewRowsDot(m: m, n: n, k: k, a: a, lda: k, b: w + i * n * k, ldb: k, c: c, ldc: n) }
                    }
                    let outer = {
                        for i in 0..<copies { Gemm.fewRowsOuter(m: m, n: n, k: k, a: a, lda: k, b: w + i * n * k, ldb: k, c: c, ldc: n) }
                    }
                    let blas = {
                        for i in 0..<copies {
                            if m == 1 {
                                cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(n), Int32(k), 1, w + i * n * k, Int32(k),
                                            a, 1, 0, c, 1)
                            } else {
                                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k), 1,
                                            a, Int32(k), w + i * n * k, Int32(k), 0, c, Int32(n))
                            }
                        }
                    }
                    return Stopwatch.alternating(rounds: rounds, ours ? [dot, outer, blas] : [blas])
                }
            } }
            let flops = 2.0 * Double(m) * Double(n) * Double(k) * Double(copies)
            let rate = { (t: Double) in flops / t / 1e9 }
            return FewRowsRow(m: m, n: n, k: k, dotGflops: ours ? rate(times[0]) : nil,
                              outerGflops: ours ? rate(times[1]) : nil, openblasGflops: rate(times.last!))
        }
    }

    /// Attention (causal, SmolLM2-135M head layout: 9 query heads, 3 KV heads, 64 dims),
    /// RMSNorm, softmax and the per-token log-probability over a 49,152-token vocabulary.
    public static func kernels(rounds: Int, tokens: Int = 256) throws -> [KernelRow] {
        var rng = BenchRNG(seed: 2)
        var rows: [KernelRow] = []
        let (qh, kvh, d) = (9, 3, 64)
        let q = try Tensor(shape: [tokens, qh, d], scalars: rng.floats(tokens * qh * d))
        let k = try Tensor(shape: [tokens, kvh, d], scalars: rng.floats(tokens * kvh * d))
        let v = try Tensor(shape: [tokens, kvh, d], scalars: rng.floats(tokens * kvh * d))
        let mask = AttentionMask.causal(count: tokens)
        // Scores and the weighted sum: 2 products of 2 d flops for each visible (query, key).
        let attentionFlops = 4.0 * Double(d * qh) * Double(tokens * (tokens + 1) / 2)
        let (out, lse) = try Attention.forward(q: q, k: k, v: v, mask: mask)
        let fwd = Stopwatch.median(rounds: rounds) { _ = try? Attention.forward(q: q, k: k, v: v, mask: mask) }
        rows.append(KernelRow(name: "attention forward", shape: "causal T=\(tokens) q\(qh) kv\(kvh) d\(d)", seconds: fwd,
                              unit: "GFLOP/s", rate: attentionFlops / fwd / 1e9))
        let bwd = Stopwatch.median(rounds: rounds) {
            _ = try? Attention.backward(out, q: q, k: k, v: v, out: out, lse: lse, mask: mask)
        }
        rows.append(KernelRow(name: "attention backward", shape: "causal T=\(tokens) q\(qh) kv\(kvh) d\(d)", seconds: bwd,
                              unit: "GFLOP/s", rate: 2 * attentionFlops / bwd / 1e9))

        let hidden = 576, normRows = 8 * tokens
        let x = try Tensor(shape: [normRows, hidden], scalars: rng.floats(normRows * hidden))
        let w = try Tensor(shape: [hidden], scalars: rng.floats(hidden))
        let normBytes = Double(2 * normRows * hidden * 4)
        let norm = Stopwatch.median(rounds: rounds) { _ = try? RMSNorm.forward(x, weight: w, eps: 1e-5) }
        rows.append(KernelRow(name: "rmsnorm forward", shape: "[\(normRows), \(hidden)]", seconds: norm,
                              unit: "GB/s", rate: normBytes / norm / 1e9))
        let (_, rstd) = try RMSNorm.forward(x, weight: w, eps: 1e-5)
        let normBack = Stopwatch.median(rounds: rounds) { _ = try? RMSNorm.backward(x, x: x, weight: w, rstd: rstd) }
        rows.append(KernelRow(name: "rmsnorm backward", shape: "[\(normRows), \(hidden)]", seconds: normBack,
                              unit: "GB/s", rate: 1.5 * normBytes / normBack / 1e9))

        let vocab = 49_152, logitRows = 64
        let logits = try Tensor(shape: [logitRows, vocab], scalars: rng.floats(logitRows * vocab, scale: 10))
        let logitBytes = Double(2 * logitRows * vocab * 4)
        let soft = Stopwatch.median(rounds: rounds) { _ = try? Softmax.forward(logits) }
        rows.append(KernelRow(name: "softmax", shape: "[\(logitRows), \(vocab)]", seconds: soft,
                              unit: "GB/s", rate: logitBytes / soft / 1e9))
        let targets = (0..<logitRows).map { Int32($0 * 7) }
        let logp = Stopwatch.median(rounds: rounds) { _ = try? TokenLogProb.forward(logits: logits, targets: targets) }
        rows.append(KernelRow(name: "token log-prob", shape: "[\(logitRows), \(vocab)]", seconds: logp,
                              unit: "tokens/s", rate: Double(logitRows) / logp))
        return rows
    }
}

/// Benchmark inputs (the values do not matter, only that they are not all equal).
struct BenchRNG {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func floats(_ n: Int, scale: Float = 1) -> [Float] {
        (0..<n).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * scale
        }
    }
}
