import Foundation

/// Hand-derived double-precision gradients of the reference kernels, each checked in the tests
/// against central finite differences of the reference forward.
extension Reference {
    /// (dx, dWeight) of rmsNorm given dy.
    public static func rmsNormBackward(_ dy: [Double], x: [Double], weight: [Double], eps: Double) -> (dx: [Double], dWeight: [Double]) {
        let dim = weight.count
        var dx = [Double](repeating: 0, count: x.count), dw = [Double](repeating: 0, count: dim)
        for r in 0..<(x.count / dim) {
            let o = r * dim
            let ms = (0..<dim).map { x[o + $0] * x[o + $0] }.reduce(0, +) / Double(dim)
            let rstd = 1 / (ms + eps).squareRoot()
            // y_i = x_i rstd w_i; d rstd / d x_j = -x_j rstd^3 / dim
            let gx = (0..<dim).map { dy[o + $0] * weight[$0] * x[o + $0] }.reduce(0, +)
            for j in 0..<dim {
                dx[o + j] = dy[o + j] * weight[j] * rstd - gx * x[o + j] * rstd * rstd * rstd / Double(dim)
                dw[j] += dy[o + j] * x[o + j] * rstd
            }
        }
        return (dx, dw)
    }

    public static func layerNormBackward(
        _ dy: [Double], x: [Double], weight: [Double], eps: Double
    ) -> (dx: [Double], dWeight: [Double], dBias: [Double]) {
        let dim = weight.count
        var dx = [Double](repeating: 0, count: x.count)
        var dw = [Double](repeating: 0, count: dim), db = [Double](repeating: 0, count: dim)
        for r in 0..<(x.count / dim) {
            let o = r * dim
            let mean = (0..<dim).map { x[o + $0] }.reduce(0, +) / Double(dim)
            let variance = (0..<dim).map { (x[o + $0] - mean) * (x[o + $0] - mean) }.reduce(0, +) / Double(dim)
            let rstd = 1 / (variance + eps).squareRoot()
            let n = (0..<dim).map { (x[o + $0] - mean) * rstd }
            let g = (0..<dim).map { dy[o + $0] * weight[$0] }
            let gMean = g.reduce(0, +) / Double(dim)
            let gnMean = zip(g, n).map(*).reduce(0, +) / Double(dim)
            for j in 0..<dim {
                dx[o + j] = rstd * (g[j] - gMean - n[j] * gnMean)
                dw[j] += dy[o + j] * n[j]
                db[j] += dy[o + j]
            }
        }
        return (dx, dw, db)
    }

    /// RoPE is a rotation per pair, so its gradient is the rotation by the opposite angle.
    public static func ropeBackward(_ dy: [Double], positions: [Int32], heads: Int, headDim: Int, theta: Double) -> [Double] {
        rope(dy, positions: positions.map { -$0 }, heads: heads, headDim: headDim, theta: theta)
    }

    public static func activationDerivative(_ kind: Activation, _ x: Double) -> Double {
        switch kind {
        case .silu:
            let s = 1 / (1 + exp(-x))
            return s + x * s * (1 - s)
        case .geluErf:
            return 0.5 * (1 + erf(x / 2.0.squareRoot())) + x * exp(-x * x / 2) / (2 * Double.pi).squareRoot()
        case .geluTanh:
            let c = (2 / Double.pi).squareRoot()
            let t = tanh(c * (x + 0.044715 * x * x * x))
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x)
        }
    }

    public static func swigluBackward(_ dOut: [Double], gate: [Double], up: [Double]) -> (dGate: [Double], dUp: [Double]) {
        let dGate = gate.indices.map { dOut[$0] * up[$0] * activationDerivative(.silu, gate[$0]) }
        let dUp = gate.indices.map { dOut[$0] * activation(.silu, gate[$0]) }
        return (dGate, dUp)
    }

    /// Through the Jacobian diag(y) - y y^T of each row.
    public static func softmaxBackward(_ dy: [Double], x: [Double], cols: Int) -> [Double] {
        let y = softmax(x, cols: cols)
        var dx = [Double](repeating: 0, count: x.count)
        for r in 0..<(x.count / cols) {
            let o = r * cols
            for i in 0..<cols {
                for j in 0..<cols {
                    let jac = (i == j ? y[o + i] : 0) - y[o + i] * y[o + j]
                    dx[o + j] += dy[o + i] * jac
                }
            }
        }
        return dx
    }

    /// Through the Jacobian I - 1 softmax^T of each row.
    public static func logSoftmaxBackward(_ dy: [Double], x: [Double], cols: Int) -> [Double] {
        let p = softmax(x, cols: cols)
        var dx = [Double](repeating: 0, count: x.count)
        for r in 0..<(x.count / cols) {
            let o = r * cols
            for i in 0..<cols {
                for j in 0..<cols { dx[o + j] += dy[o + i] * ((i == j ? 1 : 0) - p[o + j]) }
            }
        }
        return dx
    }

    public static func tokenLogProbBackward(_ dLogp: [Double], logits: [Double], targets: [Int32], vocab: Int) -> [Double] {
        var dy = [Double](repeating: 0, count: logits.count)
        for (t, id) in targets.enumerated() { dy[t * vocab + Int(id)] = dLogp[t] }
        return logSoftmaxBackward(dy, x: logits, cols: vocab)
    }

    /// (dq, dk, dv) of the reference attention, through the softmax Jacobian per (query, head).
    public static func attentionBackward(
        _ dOut: [Double], q: [Double], k: [Double], v: [Double], tokens: Int, qHeads: Int, kvHeads: Int, headDim: Int,
        visible: (Int, Int) -> Bool, scale: Double
    ) -> (dq: [Double], dk: [Double], dv: [Double]) {
        var dq = [Double](repeating: 0, count: q.count)
        var dk = [Double](repeating: 0, count: k.count), dv = [Double](repeating: 0, count: v.count)
        let group = qHeads / kvHeads
        func qi(_ i: Int, _ h: Int, _ d: Int) -> Int { (i * qHeads + h) * headDim + d }
        func ki(_ j: Int, _ h: Int, _ d: Int) -> Int { (j * kvHeads + h) * headDim + d }
        for i in 0..<tokens {
            for h in 0..<qHeads {
                let kvh = h / group
                let keys = (0..<tokens).filter { visible(i, $0) }
                let s = keys.map { j in (0..<headDim).map { q[qi(i, h, $0)] * k[ki(j, kvh, $0)] }.reduce(0, +) * scale }
                let m = s.max()!
                let z = s.map { exp($0 - m) }.reduce(0, +)
                let p = s.map { exp($0 - m) / z }
                // dp_a = dOut . v_a; ds_a = p_a (dp_a - sum_b p_b dp_b)
                let dp = keys.map { j in (0..<headDim).map { dOut[qi(i, h, $0)] * v[ki(j, kvh, $0)] }.reduce(0, +) }
                let pdp = zip(p, dp).map(*).reduce(0, +)
                for (a, j) in keys.enumerated() {
                    let ds = p[a] * (dp[a] - pdp)
                    for d in 0..<headDim {
                        dv[ki(j, kvh, d)] += p[a] * dOut[qi(i, h, d)]
                        dq[qi(i, h, d)] += scale * ds * k[ki(j, kvh, d)]
                        dk[ki(j, kvh, d)] += scale * ds * q[qi(i, h, d)]
                    }
                }
            }
        }
        return (dq, dk, dv)
    }
}
