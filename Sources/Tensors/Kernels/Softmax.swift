import Foundation

/// Row-wise softmax and log-softmax over the last dimension: x, y `[rows, cols]`.
/// Backward forms accumulate (`+=`) into dx.
public enum Softmax {
    public static func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        Compute.parallelFor(rows, minChunk: max(1, 8192 / max(cols, 1))) { range in
            for r in range {
                let xr = x + r * cols, yr = y + r * cols
                let m = VectorMath.maxSIMD(xr, cols)
                yr.update(from: xr, count: cols)
                let inv = 1 / VectorMath.expShiftedInPlace(yr, cols, shift: m)
                for i in 0..<cols { yr[i] *= inv }
            }
        }
    }

    /// dx += y * (dy - sum(dy * y))
    public static func backward(dy: UnsafePointer<Float>, y: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        Compute.parallelFor(rows, minChunk: max(1, 8192 / max(cols, 1))) { range in
            for r in range {
                let dyr = dy + r * cols, yr = y + r * cols, dxr = dx + r * cols
                let d = VectorMath.dot(dyr, yr, cols)
                for i in 0..<cols { dxr[i] += yr[i] * (dyr[i] - d) }
            }
        }
    }

    /// log(sum(exp(x))) of one row, shifted by its maximum so that it never overflows.
    @inline(__always)
    static func logSumExp(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        let m = VectorMath.maxSIMD(x, n)
        if m == -.infinity { return -.infinity }
        return m + log(VectorMath.sumExpShifted(x, n, shift: m))
    }

    /// y = x - logsumexp(x)
    public static func logForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        Compute.parallelFor(rows, minChunk: max(1, 8192 / max(cols, 1))) { range in
            for r in range {
                let xr = x + r * cols, yr = y + r * cols
                let lse = logSumExp(xr, cols)
                for i in 0..<cols { yr[i] = xr[i] - lse }
            }
        }
    }

    /// dx += dy - exp(y) * sum(dy), with y the log-softmax output.
    public static func logBackward(dy: UnsafePointer<Float>, y: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        Compute.parallelFor(rows, minChunk: max(1, 8192 / max(cols, 1))) { range in
            for r in range {
                let dyr = dy + r * cols, yr = y + r * cols, dxr = dx + r * cols
                let s = VectorMath.sum(dyr, cols)
                for i in 0..<cols { dxr[i] += dyr[i] - exp(yr[i]) * s }
            }
        }
    }
}

extension Softmax {
    static func rowsCols(_ x: Tensor, op: String) throws -> (Int, Int) {
        try Check.that(x.rank >= 1, op: op, "expected x [..., cols], found a scalar of shape \(x.shape)")
        let cols = x.shape[x.rank - 1]
        try Check.that(cols > 0 || x.count == 0, op: op, "rows of zero length have no softmax, found x \(x.shape)")
        return (cols == 0 ? 0 : x.count / cols, cols)
    }

    public static func forward(_ x: Tensor) throws -> Tensor {
        try rowwise(x, op: "softmax", forward)
    }

    public static func backward(_ dy: Tensor, y: Tensor) throws -> Tensor {
        try rowwiseBackward(dy, y, op: "softmaxBackward", backward)
    }

    public static func logForward(_ x: Tensor) throws -> Tensor {
        try rowwise(x, op: "logSoftmax", logForward)
    }

    public static func logBackward(_ dy: Tensor, y: Tensor) throws -> Tensor {
        try rowwiseBackward(dy, y, op: "logSoftmaxBackward", logBackward)
    }

    private static func rowwise(
        _ x: Tensor, op: String,
        _ kernel: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int, Int) -> Void
    ) throws -> Tensor {
        let (rows, cols) = try rowsCols(x, op: op)
        var y = Tensor(zeros: x.shape)
        x.withPointer { px in y.withMutablePointer { py in kernel(px, py, rows, cols) } }
        return y
    }

    private static func rowwiseBackward(
        _ dy: Tensor, _ y: Tensor, op: String,
        _ kernel: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int, Int) -> Void
    ) throws -> Tensor {
        try Check.sameShape(dy, y, ("dy", "y"), op: op)
        let (rows, cols) = try rowsCols(y, op: op)
        var dx = Tensor(zeros: y.shape)
        dy.withPointer { pdy in y.withPointer { py in dx.withMutablePointer { pdx in kernel(pdy, py, pdx, rows, cols) } } }
        return dx
    }
}
