/// Small vector loops written with explicit SIMD accumulators: Swift does not reassociate float
/// additions, so a plain `for` reduction would not vectorise. Public for the model code's own
/// per-row loops (attention over a KV cache, say).
public enum VectorMath {
    /// sum_i a[i] * b[i]
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        var i = 0
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        while i + 16 <= n {
            acc0 += ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                * rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            acc1 += ra.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self)
                * rb.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self)
            i += 16
        }
        var s = (acc0 + acc1).sum()
        while i < n {
            s += a[i] * b[i]
            i += 1
        }
        return s
    }

    /// y[i] += alpha * x[i]
    @inline(__always)
    public static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        var i = 0
        let rx = UnsafeRawPointer(x), ry = UnsafeMutableRawPointer(y)
        let va = SIMD8<Float>(repeating: alpha)
        while i + 8 <= n {
            let v = ry.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                + va * rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            ry.storeBytes(of: v, toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n {
            y[i] += alpha * x[i]
            i += 1
        }
    }

    /// sum_i x[i]
    @inline(__always)
    public static func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>()
        var i = 0
        let rx = UnsafeRawPointer(x)
        while i + 8 <= n {
            acc += rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        var s = acc.sum()
        while i < n {
            s += x[i]
            i += 1
        }
        return s
    }

    /// Whether every x[i] is finite. x * 0 is 0 for a finite x and NaN for a NaN or an infinity,
    /// and a NaN stays NaN through the sum: one pass of multiply-adds, no branch per element.
    public static func allFinite(_ x: UnsafePointer<Float>, _ n: Int) -> Bool {
        var acc = SIMD8<Float>()
        var i = 0
        let rx = UnsafeRawPointer(x)
        while i + 8 <= n {
            acc += rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) * 0
            i += 8
        }
        var s = acc.sum()
        while i < n {
            s += x[i] * 0
            i += 1
        }
        return s == 0
    }

    /// max_i x[i] (n >= 1)
    @inline(__always)
    public static func max(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var m = x[0]
        for i in 1..<Swift.max(n, 1) where x[i] > m { m = x[i] }
        return m
    }
}

extension Tensor {
    /// Calls `body` with the storage of each tensor in turn (read-only).
    /// An empty tensor gets a valid pointer to nothing (kernels then touch no element).
    public func withPointer<R>(_ body: (UnsafePointer<Float>) throws -> R) rethrows -> R {
        try scalars.withUnsafeBufferPointer { try body($0.baseAddress ?? UnsafePointer(emptyStorage)) }
    }

    public mutating func withMutablePointer<R>(_ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        try scalars.withUnsafeMutableBufferPointer { try body($0.baseAddress ?? emptyStorage) }
    }
}

/// Stands in for the storage of an empty array, whose base address may be nil.
nonisolated(unsafe) private let emptyStorage = UnsafeMutablePointer<Float>.allocate(capacity: 1)

extension VectorMath {
    /// e^x for 8 lanes with x <= 0 (softmax-style inputs, already shifted by their maximum):
    /// x = n ln2 + r with |r| <= ln2/2, e^r by its degree-6 Taylor polynomial (relative error
    /// about 1e-7, i.e. about one Float32 ulp), times 2^n built in the exponent bits. Lanes
    /// below -87.3 (including -inf) give exactly 0. Positive inputs are outside the contract.
    /// Lane selects are done with sign-bit masks: the generic `replace(with:where:)` costs more
    /// than the polynomial here.
    @inline(__always)
    public static func expNonPositive(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let low = SIMD8<Float>(repeating: -87.3)
        let below = unsafeBitCast(x - low, to: SIMD8<Int32>.self) &>> 31  // all ones where x < -87.3
        let clamped = unsafeBitCast(
            (unsafeBitCast(x, to: SIMD8<Int32>.self) & ~below) | (unsafeBitCast(low, to: SIMD8<Int32>.self) & below),
            to: SIMD8<Float>.self)
        // Adding 1.5 * 2^23 rounds to an integer (nearest even) held in the low mantissa bits:
        // both the rounding and the float-to-int conversion without a per-lane call.
        let magic = SIMD8<Float>(repeating: 12_582_912)
        let shifted = clamped * 1.442_695_04 + magic
        let n = shifted - magic
        // ln 2 split in two so that n * ln2Hi is exact.
        let r = clamped - n * 0.693_359_375 - n * -2.121_944_4e-4
        var p = SIMD8<Float>(repeating: 1.0 / 720)
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        // 2^n: (n + 127) << 23, with n = bits(shifted) - bits(magic).
        let bits = (unsafeBitCast(shifted, to: SIMD8<UInt32>.self) &- 0x4B40_0000 &+ 127) &<< 23
        let result = p * unsafeBitCast(bits, to: SIMD8<Float>.self)
        return unsafeBitCast(unsafeBitCast(result, to: SIMD8<Int32>.self) & ~below, to: SIMD8<Float>.self)
    }

    /// sigmoid(x) for 8 lanes, from t = e^-|x| (so that the exponential never overflows):
    /// 1 / (1 + t) for x >= 0 and t / (1 + t) below. Relative error a few Float32 ulps (that of
    /// `expNonPositive`, one division); x below -87.3 gives 0.
    @inline(__always)
    public static func sigmoid(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let bits = unsafeBitCast(x, to: SIMD8<Int32>.self)
        let negative = bits &>> 31  // all ones where the sign bit is set
        let t = expNonPositive(unsafeBitCast(bits | Int32.min, to: SIMD8<Float>.self))  // e^-|x|
        let one = unsafeBitCast(SIMD8<Float>(repeating: 1), to: SIMD8<Int32>.self)
        let numerator = unsafeBitCast((one & ~negative) | (unsafeBitCast(t, to: SIMD8<Int32>.self) & negative),
                                      to: SIMD8<Float>.self)
        return numerator / (1 + t)
    }

    /// x * sigmoid(x) for 8 lanes (SiLU).
    @inline(__always)
    public static func silu(_ x: SIMD8<Float>) -> SIMD8<Float> { x * sigmoid(x) }

    /// x[i] = e^(x[i] - shift) for shift >= max(x); returns the sum of the new values.
    @inline(__always)
    public static func expShiftedInPlace(_ x: UnsafeMutablePointer<Float>, _ n: Int, shift: Float) -> Float {
        var acc = SIMD8<Float>()
        var i = 0
        let raw = UnsafeMutableRawPointer(x)
        let s = SIMD8<Float>(repeating: shift)
        while i + 8 <= n {
            let e = expNonPositive(raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - s)
            raw.storeBytes(of: e, toByteOffset: i * 4, as: SIMD8<Float>.self)
            acc += e
            i += 8
        }
        var total = acc.sum()
        while i < n {
            var tail = SIMD8<Float>(repeating: -.infinity)
            let count = Swift.min(8, n - i)
            for j in 0..<count { tail[j] = x[i + j] - shift }
            let e = expNonPositive(tail)
            for j in 0..<count { x[i + j] = e[j] }
            total += e.sum()
            i += count
        }
        return total
    }

    /// sum_i e^(x[i] - shift) for shift >= max(x), leaving x unchanged.
    @inline(__always)
    public static func sumExpShifted(_ x: UnsafePointer<Float>, _ n: Int, shift: Float) -> Float {
        var acc = SIMD8<Float>()
        var i = 0
        let raw = UnsafeRawPointer(x)
        let s = SIMD8<Float>(repeating: shift)
        while i + 8 <= n {
            acc += expNonPositive(raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - s)
            i += 8
        }
        if i < n {
            var tail = SIMD8<Float>(repeating: -.infinity)
            for j in 0..<(n - i) { tail[j] = x[i + j] - shift }
            acc += expNonPositive(tail)
        }
        return acc.sum()
    }

    /// max_i x[i] with SIMD lanes (n >= 1).
    @inline(__always)
    public static func maxSIMD(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var i = 0
        var m = SIMD8<Float>(repeating: -.infinity)
        let raw = UnsafeRawPointer(x)
        while i + 8 <= n {
            // Sign-bit select instead of `pointwiseMax`, which the compiler leaves as a generic
            // call per vector (a tenth of a tiny model's prefill). Where m - v is negative, v.
            let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            let takeV = unsafeBitCast(m - v, to: SIMD8<Int32>.self) &>> 31
            m = unsafeBitCast((unsafeBitCast(m, to: SIMD8<Int32>.self) & ~takeV) | (unsafeBitCast(v, to: SIMD8<Int32>.self) & takeV),
                              to: SIMD8<Float>.self)
            i += 8
        }
        // Lane reduction by hand: `SIMD8.max()` stays a generic call here.
        var result = m[0]
        for lane in 1..<8 where m[lane] > result { result = m[lane] }
        while i < n {
            if x[i] > result { result = x[i] }
            i += 1
        }
        return result
    }
}

extension VectorMath {
    /// scores[j] = scale * (x · rows[j]) for j < count, where rows[j] starts `stride` floats
    /// after rows[j - 1] and x, rows[j] hold n floats: attention scores of one query against a
    /// run of cached keys. Four rows share each load of x.
    public static func scaledDots(
        _ x: UnsafePointer<Float>, rows: UnsafePointer<Float>, stride: Int, count: Int, n: Int,
        scale: Float, into scores: UnsafeMutablePointer<Float>
    ) {
        let rx = UnsafeRawPointer(x)
        var j = 0
        // Eight rows at a time while x is short (a head of 32 floats: each row's chain is only
        // n / 8 fused multiply-adds long, so four chains leave the FMA units waiting on latency).
        // Each row's arithmetic is the four-row loop's, so the scores are the same bits.
        if n <= 32 {
            while j + 8 <= count {
                let r0 = UnsafeRawPointer(rows + j * stride)
                var s0 = SIMD8<Float>(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0
                var i = 0
                while i + 8 <= n {
                    let v = rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self), o = i * 4, b = 4 * stride
                    s0.addProduct(v, r0.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self))
                    s1.addProduct(v, r0.loadUnaligned(fromByteOffset: o + b, as: SIMD8<Float>.self))
                    s2.addProduct(v, r0.loadUnaligned(fromByteOffset: o + 2 * b, as: SIMD8<Float>.self))
                    s3.addProduct(v, r0.loadUnaligned(fromByteOffset: o + 3 * b, as: SIMD8<Float>.self))
                    s4.addProduct(v, r0.loadUnaligned(fromByteOffset: o + 4 * b, as: SIMD8<Float>.self))
                    s5.addProduct(v, r0.loadUnaligned(fromByteOffset: o + 5 * b, as: SIMD8<Float>.self))
                    s6.addProduct(v, r0.loadUnaligned(fromByteOffset: o + 6 * b, as: SIMD8<Float>.self))
                    s7.addProduct(v, r0.loadUnaligned(fromByteOffset: o + 7 * b, as: SIMD8<Float>.self))
                    i += 8
                }
                var s = SIMD8<Float>(s0.sum(), s1.sum(), s2.sum(), s3.sum(), s4.sum(), s5.sum(), s6.sum(), s7.sum())
                while i < n {
                    let row = rows + j * stride + i
                    s += x[i] * SIMD8<Float>(row[0], row[stride], row[2 * stride], row[3 * stride],
                                             row[4 * stride], row[5 * stride], row[6 * stride], row[7 * stride])
                    i += 1
                }
                s *= scale
                for lane in 0..<8 { scores[j + lane] = s[lane] }
                j += 8
            }
        }
        while j + 4 <= count {
            let r0 = UnsafeRawPointer(rows + j * stride), r1 = r0 + 4 * stride
            let r2 = r1 + 4 * stride, r3 = r2 + 4 * stride
            var s0 = SIMD8<Float>(), s1 = s0, s2 = s0, s3 = s0
            var i = 0
            while i + 8 <= n {
                let v = rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                s0.addProduct(v, r0.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
                s1.addProduct(v, r1.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
                s2.addProduct(v, r2.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
                s3.addProduct(v, r3.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
                i += 8
            }
            var s = SIMD4<Float>(s0.sum(), s1.sum(), s2.sum(), s3.sum())
            while i < n {
                let row = rows + j * stride + i
                s += x[i] * SIMD4<Float>(row[0], row[stride], row[2 * stride], row[3 * stride])
                i += 1
            }
            s *= scale
            scores[j] = s[0]
            scores[j + 1] = s[1]
            scores[j + 2] = s[2]
            scores[j + 3] = s[3]
            j += 4
        }
        while j < count {
            scores[j] = scale * fusedDot(x, rows + j * stride, n)
            j += 1
        }
    }

    /// out[i] += sum_j w[j] * rows[j][i] for i < n, j < count (rows `stride` floats apart): the
    /// probability-weighted sum of a run of cached values. Each 64-float chunk of out stays in
    /// registers over all rows, so out is read and written once per chunk, not once per row.
    public static func addWeightedRows(
        _ w: UnsafePointer<Float>, rows: UnsafePointer<Float>, stride: Int, count: Int, n: Int,
        into out: UnsafeMutablePointer<Float>
    ) {
        guard count > 0 else { return }
        let ro = UnsafeMutableRawPointer(out)
        var i = 0
        while i + 64 <= n {
            var a0 = ro.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            var a1 = ro.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self)
            var a2 = ro.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD8<Float>.self)
            var a3 = ro.loadUnaligned(fromByteOffset: i * 4 + 96, as: SIMD8<Float>.self)
            var a4 = ro.loadUnaligned(fromByteOffset: i * 4 + 128, as: SIMD8<Float>.self)
            var a5 = ro.loadUnaligned(fromByteOffset: i * 4 + 160, as: SIMD8<Float>.self)
            var a6 = ro.loadUnaligned(fromByteOffset: i * 4 + 192, as: SIMD8<Float>.self)
            var a7 = ro.loadUnaligned(fromByteOffset: i * 4 + 224, as: SIMD8<Float>.self)
            for j in 0..<count {
                let p = SIMD8<Float>(repeating: w[j])
                let r = UnsafeRawPointer(rows + j * stride + i)
                a0.addProduct(p, r.loadUnaligned(as: SIMD8<Float>.self))
                a1.addProduct(p, r.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
                a2.addProduct(p, r.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self))
                a3.addProduct(p, r.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
                a4.addProduct(p, r.loadUnaligned(fromByteOffset: 128, as: SIMD8<Float>.self))
                a5.addProduct(p, r.loadUnaligned(fromByteOffset: 160, as: SIMD8<Float>.self))
                a6.addProduct(p, r.loadUnaligned(fromByteOffset: 192, as: SIMD8<Float>.self))
                a7.addProduct(p, r.loadUnaligned(fromByteOffset: 224, as: SIMD8<Float>.self))
            }
            ro.storeBytes(of: a0, toByteOffset: i * 4, as: SIMD8<Float>.self)
            ro.storeBytes(of: a1, toByteOffset: i * 4 + 32, as: SIMD8<Float>.self)
            ro.storeBytes(of: a2, toByteOffset: i * 4 + 64, as: SIMD8<Float>.self)
            ro.storeBytes(of: a3, toByteOffset: i * 4 + 96, as: SIMD8<Float>.self)
            ro.storeBytes(of: a4, toByteOffset: i * 4 + 128, as: SIMD8<Float>.self)
            ro.storeBytes(of: a5, toByteOffset: i * 4 + 160, as: SIMD8<Float>.self)
            ro.storeBytes(of: a6, toByteOffset: i * 4 + 192, as: SIMD8<Float>.self)
            ro.storeBytes(of: a7, toByteOffset: i * 4 + 224, as: SIMD8<Float>.self)
            i += 64
        }
        // A 32-float chunk (a head of 32: the bundled model) with four independent sums per
        // row, not one chain per 8 floats that waits on each FMA's latency; every out[i] still
        // adds the rows in order j = 0, 1, ..., so the result is the same bits.
        while i + 32 <= n {
            var a0 = ro.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            var a1 = ro.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self)
            var a2 = ro.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD8<Float>.self)
            var a3 = ro.loadUnaligned(fromByteOffset: i * 4 + 96, as: SIMD8<Float>.self)
            for j in 0..<count {
                let p = SIMD8<Float>(repeating: w[j])
                let r = UnsafeRawPointer(rows + j * stride + i)
                a0.addProduct(p, r.loadUnaligned(as: SIMD8<Float>.self))
                a1.addProduct(p, r.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
                a2.addProduct(p, r.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self))
                a3.addProduct(p, r.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
            }
            ro.storeBytes(of: a0, toByteOffset: i * 4, as: SIMD8<Float>.self)
            ro.storeBytes(of: a1, toByteOffset: i * 4 + 32, as: SIMD8<Float>.self)
            ro.storeBytes(of: a2, toByteOffset: i * 4 + 64, as: SIMD8<Float>.self)
            ro.storeBytes(of: a3, toByteOffset: i * 4 + 96, as: SIMD8<Float>.self)
            i += 32
        }
        while i + 8 <= n {
            var a = ro.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            for j in 0..<count {
                a.addProduct(SIMD8<Float>(repeating: w[j]), UnsafeRawPointer(rows + j * stride + i).loadUnaligned(as: SIMD8<Float>.self))
            }
            ro.storeBytes(of: a, toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n {
            var a = out[i]
            for j in 0..<count { a += w[j] * rows[j * stride + i] }
            out[i] = a
            i += 1
        }
    }

    /// sum_i a[i] * b[i] with fused multiply-adds (`dot` keeps separate products and sums).
    @inline(__always)
    static func fusedDot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>()
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        var i = 0
        while i + 8 <= n {
            acc.addProduct(ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self),
                           rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
            i += 8
        }
        var s = acc.sum()
        while i < n {
            s += a[i] * b[i]
            i += 1
        }
        return s
    }
}
