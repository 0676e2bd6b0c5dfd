import Foundation

/// Plain double-precision versions of every kernel: the references the fast Float32 kernels are
/// tested against, and (being in Double) the functions that finite differences differentiate.
/// Written for clarity, one loop per formula; never used on a hot path.
public enum Reference {}

extension Reference {
    /// C[m, n] = op(A) op(B) (+ C when accumulating); A `[m, k]` or `[k, m]`, B `[k, n]` or `[n, k]`.
    public static func matmul(
        _ a: [Double], _ b: [Double], m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool
    ) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    let av = transposeA ? a[p * m + i] : a[i * k + p]
                    let bv = transposeB ? b[j * k + p] : b[p * n + j]
                    s += av * bv
                }
                c[i * n + j] = s
            }
        }
        return c
    }

    /// (dA, dB) of matmul, element by element from the definition.
    public static func matmulBackward(
        _ dC: [Double], _ a: [Double], _ b: [Double], m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool
    ) -> (dA: [Double], dB: [Double]) {
        var dA = [Double](repeating: 0, count: a.count), dB = [Double](repeating: 0, count: b.count)
        for i in 0..<m {
            for j in 0..<n {
                for p in 0..<k {
                    let ai = transposeA ? p * m + i : i * k + p
                    let bi = transposeB ? j * k + p : p * n + j
                    dA[ai] += dC[i * n + j] * b[bi]
                    dB[bi] += dC[i * n + j] * a[ai]
                }
            }
        }
        return (dA, dB)
    }

    public static func embedding(table: [Double], ids: [Int32], dim: Int) -> [Double] {
        ids.flatMap { id in table[Int(id) * dim..<(Int(id) + 1) * dim] }
    }

    public static func embeddingBackward(dOut: [Double], ids: [Int32], vocab: Int, dim: Int) -> [Double] {
        var d = [Double](repeating: 0, count: vocab * dim)
        for (t, id) in ids.enumerated() {
            for c in 0..<dim { d[Int(id) * dim + c] += dOut[t * dim + c] }
        }
        return d
    }

    public static func rmsNorm(_ x: [Double], weight: [Double], eps: Double) -> [Double] {
        let dim = weight.count
        var y = x
        for r in 0..<(x.count / dim) {
            let row = x[r * dim..<(r + 1) * dim]
            let rms = (row.map { $0 * $0 }.reduce(0, +) / Double(dim) + eps).squareRoot()
            for i in 0..<dim { y[r * dim + i] = x[r * dim + i] / rms * weight[i] }
        }
        return y
    }

    public static func layerNorm(_ x: [Double], weight: [Double], bias: [Double], eps: Double) -> [Double] {
        let dim = weight.count
        var y = x
        for r in 0..<(x.count / dim) {
            let row = Array(x[r * dim..<(r + 1) * dim])
            let mean = row.reduce(0, +) / Double(dim)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(dim)
            for i in 0..<dim { y[r * dim + i] = (row[i] - mean) / (variance + eps).squareRoot() * weight[i] + bias[i] }
        }
        return y
    }

    /// Rotate-half RoPE with angle position * theta^(-2i/headDim); x `[tokens, heads, headDim]`.
    public static func rope(_ x: [Double], positions: [Int32], heads: Int, headDim: Int, theta: Double) -> [Double] {
        let half = headDim / 2
        var y = x
        for t in 0..<positions.count {
            for h in 0..<heads {
                let base = (t * heads + h) * headDim
                for i in 0..<half {
                    let angle = Double(positions[t]) * pow(theta, -Double(2 * i) / Double(headDim))
                    let a = x[base + i], b = x[base + i + half]
                    y[base + i] = a * cos(angle) - b * sin(angle)
                    y[base + i + half] = b * cos(angle) + a * sin(angle)
                }
            }
        }
        return y
    }

    public static func activation(_ kind: Activation, _ x: Double) -> Double {
        switch kind {
        case .silu: return x / (1 + exp(-x))
        case .geluErf: return 0.5 * x * (1 + erf(x / 2.0.squareRoot()))
        case .geluTanh: return 0.5 * x * (1 + tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
        }
    }

    public static func swiglu(gate: [Double], up: [Double]) -> [Double] {
        zip(gate, up).map { activation(.silu, $0) * $1 }
    }

    public static func softmax(_ x: [Double], cols: Int) -> [Double] {
        var y = x
        for r in 0..<(x.count / cols) {
            let row = x[r * cols..<(r + 1) * cols]
            let m = row.max()!
            let sum = row.map { exp($0 - m) }.reduce(0, +)
            for i in 0..<cols { y[r * cols + i] = exp(x[r * cols + i] - m) / sum }
        }
        return y
    }

    public static func logSoftmax(_ x: [Double], cols: Int) -> [Double] {
        softmax(x, cols: cols).map { log($0) }
    }

    /// logp[t] = log softmax(logits[t])[target[t]]
    public static func tokenLogProb(logits: [Double], targets: [Int32], vocab: Int) -> [Double] {
        let ls = logSoftmax(logits, cols: vocab)
        return targets.enumerated().map { t, id in ls[t * vocab + Int(id)] }
    }

    public static func crossEntropy(logits: [Double], targets: [Int32], vocab: Int) -> Double {
        -tokenLogProb(logits: logits, targets: targets, vocab: vocab).reduce(0, +) / Double(max(targets.count, 1))
    }

    /// Attention with an explicit visibility test per (query, key) pair, from the mask's
    /// definition (not its chains): q `[tokens, qHeads, headDim]`, k, v `[tokens, kvHeads, headDim]`.
    public static func attention(
        q: [Double], k: [Double], v: [Double], tokens: Int, qHeads: Int, kvHeads: Int, headDim: Int,
        visible: (Int, Int) -> Bool, scale: Double
    ) -> [Double] {
        var out = [Double](repeating: 0, count: q.count)
        let group = qHeads / kvHeads
        for i in 0..<tokens {
            for h in 0..<qHeads {
                let kvh = h / group
                var scores: [(Int, Double)] = []
                for j in 0..<tokens where visible(i, j) {
                    var s = 0.0
                    for d in 0..<headDim {
                        s += q[(i * qHeads + h) * headDim + d] * k[(j * kvHeads + kvh) * headDim + d]
                    }
                    scores.append((j, s * scale))
                }
                let m = scores.map(\.1).max()!
                let z = scores.map { exp($0.1 - m) }.reduce(0, +)
                for (j, s) in scores {
                    let p = exp(s - m) / z
                    for d in 0..<headDim { out[(i * qHeads + h) * headDim + d] += p * v[(j * kvHeads + kvh) * headDim + d] }
                }
            }
        }
        return out
    }
}
