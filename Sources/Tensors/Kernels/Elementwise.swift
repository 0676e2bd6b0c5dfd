/// Elementwise arithmetic and the bias add of a linear layer, forward and backward.
/// Pointer forms take equal-length buffers; backward forms accumulate (`+=`) into gradients.
public enum Elementwise {
    /// out = a + b
    public static func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { out[i] = a[i] + b[i] }
    }

    /// da += dOut, db += dOut
    public static func addBackward(dOut: UnsafePointer<Float>, da: UnsafeMutablePointer<Float>, db: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            da[i] += dOut[i]
            db[i] += dOut[i]
        }
    }

    /// out = a * b
    public static func mul(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { out[i] = a[i] * b[i] }
    }

    /// da += dOut * b, db += dOut * a
    public static func mulBackward(
        dOut: UnsafePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
        da: UnsafeMutablePointer<Float>, db: UnsafeMutablePointer<Float>, count: Int
    ) {
        for i in 0..<count {
            da[i] += dOut[i] * b[i]
            db[i] += dOut[i] * a[i]
        }
    }

    /// out = s * a
    public static func scale(_ a: UnsafePointer<Float>, by s: Float, _ out: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { out[i] = s * a[i] }
    }

    /// da += s * dOut
    public static func scaleBackward(dOut: UnsafePointer<Float>, by s: Float, da: UnsafeMutablePointer<Float>, count: Int) {
        VectorMath.axpy(s, dOut, da, count)
    }

    /// x[rows, cols] += bias[cols], in place.
    public static func biasAdd(_ x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, rows: Int, cols: Int) {
        for r in 0..<rows {
            let row = x + r * cols
            for c in 0..<cols { row[c] += bias[c] }
        }
    }

    /// dBias[cols] += sum over rows of dOut[rows, cols] (dx is dOut itself: the add passes it through).
    public static func biasAddBackward(dOut: UnsafePointer<Float>, dBias: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        for r in 0..<rows { VectorMath.axpy(1, dOut + r * cols, dBias, cols) }
    }
}

extension Elementwise {
    public static func add(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        try Check.sameShape(a, b, ("a", "b"), op: "add")
        return binary(a, b) { add($0, $1, $2, count: $3) }
    }

    public static func mul(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        try Check.sameShape(a, b, ("a", "b"), op: "mul")
        return binary(a, b) { mul($0, $1, $2, count: $3) }
    }

    /// (da, db) of `a * b`.
    public static func mulBackward(_ dOut: Tensor, _ a: Tensor, _ b: Tensor) throws -> (da: Tensor, db: Tensor) {
        try Check.sameShape(a, b, ("a", "b"), op: "mulBackward")
        try Check.sameShape(dOut, a, ("dOut", "a"), op: "mulBackward")
        var da = Tensor(zeros: a.shape), db = Tensor(zeros: b.shape)
        dOut.withPointer { pd in a.withPointer { pa in b.withPointer { pb in
            da.withMutablePointer { pda in db.withMutablePointer { pdb in
                mulBackward(dOut: pd, a: pa, b: pb, da: pda, db: pdb, count: a.count)
            } }
        } } }
        return (da, db)
    }

    public static func scale(_ a: Tensor, by s: Float) -> Tensor {
        var out = Tensor(zeros: a.shape)
        a.withPointer { pa in out.withMutablePointer { po in scale(pa, by: s, po, count: a.count) } }
        return out
    }

    /// x[..., cols] + bias[cols]
    public static func biasAdd(_ x: Tensor, bias: Tensor) throws -> Tensor {
        try Check.rank(bias, 1, "bias", op: "biasAdd")
        try Check.that(x.rank >= 1 && x.shape.last == bias.count, op: "biasAdd",
                       "expected x [..., \(bias.count)] for bias \(bias.shape), found x \(x.shape)")
        var out = x
        out.withMutablePointer { po in bias.withPointer { pb in
            biasAdd(po, bias: pb, rows: x.count / max(bias.count, 1), cols: bias.count)
        } }
        return out
    }

    /// dBias of `biasAdd` (dx equals dOut).
    public static func biasAddBackward(_ dOut: Tensor, cols: Int) throws -> Tensor {
        try Check.that(dOut.rank >= 1 && dOut.shape.last == cols, op: "biasAddBackward",
                       "expected dOut [..., \(cols)], found \(dOut.shape)")
        var dBias = Tensor(zeros: [cols])
        dOut.withPointer { pd in dBias.withMutablePointer { pb in
            biasAddBackward(dOut: pd, dBias: pb, rows: dOut.count / max(cols, 1), cols: cols)
        } }
        return dBias
    }

    private static func binary(
        _ a: Tensor, _ b: Tensor,
        _ kernel: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void
    ) -> Tensor {
        var out = Tensor(zeros: a.shape)
        a.withPointer { pa in b.withPointer { pb in out.withMutablePointer { po in kernel(pa, pb, po, a.count) } } }
        return out
    }
}
