/// LayerNorm as GPT-2 uses it: y = (x - mean) / sqrt(var + eps) * weight + bias (biased var).
/// x, y `[rows, dim]`; weight, bias `[dim]`; mean, rstd `[rows]` kept for backward.
public enum LayerNorm {
    public static func forward(
        x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
        y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
        rows: Int, dim: Int, eps: Float
    ) {
        Compute.parallelFor(rows, minChunk: max(1, 16_384 / max(dim, 1))) { range in
            for r in range {
                let xr = x + r * dim, yr = y + r * dim
                let m = VectorMath.sum(xr, dim) / Float(dim)
                var v: Float = 0
                for i in 0..<dim { v += (xr[i] - m) * (xr[i] - m) }
                let s = 1 / (v / Float(dim) + eps).squareRoot()
                mean[r] = m
                rstd[r] = s
                for i in 0..<dim { yr[i] = (xr[i] - m) * s * weight[i] + bias[i] }
            }
        }
    }

    /// With n = (x - mean) * rstd and g = dy * weight:
    /// dx += rstd * (g - mean(g) - n * mean(g * n)); dWeight += dy * n; dBias += dy.
    public static func backward(
        dy: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
        dx: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>,
        rows: Int, dim: Int
    ) {
        let workers = min(Compute.threads, max(1, rows))
        let dws = PartialSums(workers: workers, length: dim), dbs = PartialSums(workers: workers, length: dim)
        Compute.parallelWorkers(workers) { w in
            let dw = dws[w], db = dbs[w]
            for r in Compute.chunkRange(w, of: workers, count: rows) {
                let xr = x + r * dim, dyr = dy + r * dim, dxr = dx + r * dim
                let m = mean[r], s = rstd[r]
                var gSum: Float = 0, gnSum: Float = 0
                for i in 0..<dim {
                    let g = dyr[i] * weight[i]
                    gSum += g
                    gnSum += g * (xr[i] - m) * s
                }
                let gMean = gSum / Float(dim), gnMean = gnSum / Float(dim)
                for i in 0..<dim {
                    let n = (xr[i] - m) * s
                    dxr[i] += s * (dyr[i] * weight[i] - gMean - n * gnMean)
                    dw[i] += dyr[i] * n
                    db[i] += dyr[i]
                }
            }
        }
        dws.reduce(into: dWeight)
        dbs.reduce(into: dBias)
    }
}

extension LayerNorm {
    /// x `[..., dim]`, weight and bias `[dim]` -> (y like x, mean `[rows]`, rstd `[rows]`)
    public static func forward(_ x: Tensor, weight: Tensor, bias: Tensor, eps: Float) throws -> (y: Tensor, mean: Tensor, rstd: Tensor) {
        let (rows, dim) = try Norms.rowsAndDim(x, weight, op: "layerNorm")
        try Check.sameShape(weight, bias, ("weight", "bias"), op: "layerNorm")
        var y = Tensor(zeros: x.shape), mean = Tensor(zeros: [rows]), rstd = Tensor(zeros: [rows])
        x.withPointer { px in weight.withPointer { pw in bias.withPointer { pb in
            y.withMutablePointer { py in mean.withMutablePointer { pm in rstd.withMutablePointer { ps in
                forward(x: px, weight: pw, bias: pb, y: py, mean: pm, rstd: ps, rows: rows, dim: dim, eps: eps)
            } } }
        } } }
        return (y, mean, rstd)
    }

    public static func backward(
        _ dy: Tensor, x: Tensor, weight: Tensor, mean: Tensor, rstd: Tensor
    ) throws -> (dx: Tensor, dWeight: Tensor, dBias: Tensor) {
        let (rows, dim) = try Norms.rowsAndDim(x, weight, op: "layerNormBackward")
        try Check.sameShape(dy, x, ("dy", "x"), op: "layerNormBackward")
        try Check.that(mean.count == rows && rstd.count == rows, op: "layerNormBackward",
                       "expected mean and rstd [\(rows)], found \(mean.shape) and \(rstd.shape)")
        var dx = Tensor(zeros: x.shape), dw = Tensor(zeros: [dim]), db = Tensor(zeros: [dim])
        dy.withPointer { pdy in x.withPointer { px in weight.withPointer { pw in
            mean.withPointer { pm in rstd.withPointer { ps in
                dx.withMutablePointer { pdx in dw.withMutablePointer { pdw in db.withMutablePointer { pdb in
                    backward(dy: pdy, x: px, weight: pw, mean: pm, rstd: ps, dx: pdx, dWeight: pdw, dBias: pdb,
                             rows: rows, dim: dim)
                } } }
            } }
        } } }
        return (dx, dw, db)
    }
}
