import Foundation

/// RMSNorm as Llama / Qwen2 use it: y = x / sqrt(mean(x^2) + eps) * weight.
/// x, y `[rows, dim]`; weight `[dim]`; rstd `[rows]` keeps 1/sqrt(mean(x^2)+eps) for backward.
public enum RMSNorm {
    public static func forward(
        x: UnsafePointer<Float>, weight: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
        rstd: UnsafeMutablePointer<Float>, rows: Int, dim: Int, eps: Float
    ) {
        Compute.parallelFor(rows, minChunk: max(1, 16_384 / max(dim, 1))) { range in
            for r in range {
                let xr = x + r * dim, yr = y + r * dim
                let meanSquare = VectorMath.dot(xr, xr, dim) / Float(dim)
                let s = 1 / (meanSquare + eps).squareRoot()
                rstd[r] = s
                for i in 0..<dim { yr[i] = xr[i] * s * weight[i] }
            }
        }
    }

    /// dx += d/dx, dWeight += d/dweight, given dy. With n = x * rstd:
    /// dx = rstd * (g - n * mean(g * n)) where g = dy * weight.
    public static func backward(
        dy: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        rstd: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>,
        rows: Int, dim: Int
    ) {
        let partials = PartialSums(workers: min(Compute.threads, max(1, rows)), length: dim)
        Compute.parallelWorkers(partials.workers) { w in
            let dw = partials[w]
            for r in Compute.chunkRange(w, of: partials.workers, count: rows) {
                let xr = x + r * dim, dyr = dy + r * dim, dxr = dx + r * dim
                let s = rstd[r]
                var gDotN: Float = 0
                for i in 0..<dim { gDotN += dyr[i] * weight[i] * xr[i] * s }
                let m = gDotN / Float(dim)
                for i in 0..<dim {
                    let n = xr[i] * s
                    dxr[i] += s * (dyr[i] * weight[i] - n * m)
                    dw[i] += dyr[i] * n
                }
            }
        }
        partials.reduce(into: dWeight)
    }
}

extension RMSNorm {
    /// x `[..., dim]`, weight `[dim]` -> (y like x, rstd `[rows]`)
    public static func forward(_ x: Tensor, weight: Tensor, eps: Float) throws -> (y: Tensor, rstd: Tensor) {
        let (rows, dim) = try Norms.rowsAndDim(x, weight, op: "rmsNorm")
        var y = Tensor(zeros: x.shape), rstd = Tensor(zeros: [rows])
        x.withPointer { px in weight.withPointer { pw in y.withMutablePointer { py in rstd.withMutablePointer { ps in
            forward(x: px, weight: pw, y: py, rstd: ps, rows: rows, dim: dim, eps: eps)
        } } } }
        return (y, rstd)
    }

    public static func backward(_ dy: Tensor, x: Tensor, weight: Tensor, rstd: Tensor) throws -> (dx: Tensor, dWeight: Tensor) {
        let (rows, dim) = try Norms.rowsAndDim(x, weight, op: "rmsNormBackward")
        try Check.sameShape(dy, x, ("dy", "x"), op: "rmsNormBackward")
        try Check.that(rstd.count == rows, op: "rmsNormBackward", "expected rstd [\(rows)], found \(rstd.shape)")
        var dx = Tensor(zeros: x.shape), dw = Tensor(zeros: weight.shape)
        dy.withPointer { pdy in x.withPointer { px in weight.withPointer { pw in rstd.withPointer { ps in
            dx.withMutablePointer { pdx in dw.withMutablePointer { pdw in
                backward(dy: pdy, x: px, weight: pw, rstd: ps, dx: pdx, dWeight: pdw, rows: rows, dim: dim)
            } }
        } } } }
        return (dx, dw)
    }
}

/// Shape checks shared by the norms.
enum Norms {
    static func rowsAndDim(_ x: Tensor, _ weight: Tensor, op: String) throws -> (Int, Int) {
        try Check.rank(weight, 1, "weight", op: op)
        let dim = weight.count
        try Check.that(x.rank >= 1 && x.shape.last == dim, op: op,
                       "expected x [..., \(dim)] for weight \(weight.shape), found x \(x.shape)")
        return (dim == 0 ? 0 : x.count / dim, dim)
    }
}

/// Per-worker partial sums of a gradient that every row adds into (a norm's weight, say),
/// reduced once at the end so workers never write the same memory.
final class PartialSums {
    let workers: Int, length: Int
    private let storage: UnsafeMutablePointer<Float>

    init(workers: Int, length: Int) {
        self.workers = workers
        self.length = length
        storage = .allocate(capacity: max(1, workers * length))
        storage.initialize(repeating: 0, count: max(1, workers * length))
    }

    deinit { storage.deallocate() }

    subscript(worker: Int) -> UnsafeMutablePointer<Float> { storage + worker * length }

    /// target[i] += sum over workers of partial[w][i]
    func reduce(into target: UnsafeMutablePointer<Float>) {
        for w in 0..<workers { VectorMath.axpy(1, self[w], target, length) }
    }
}
