import Foundation

/// Pointwise activations, forward and backward. Backward forms accumulate (`+=`) into dx.
public enum Activation: String, Sendable, CaseIterable, Codable {
    /// x * sigmoid(x)
    case silu
    /// 0.5 x (1 + erf(x / sqrt 2)), the exact form (`gelu` in transformers)
    case geluErf = "gelu"
    /// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), the form GPT-2 uses (`gelu_new`)
    case geluTanh = "gelu_new"

    @inline(__always)
    public func value(_ x: Float) -> Float {
        switch self {
        case .silu: return x / (1 + exp(-x))
        case .geluErf: return 0.5 * x * (1 + erf(x * Float(0.5.squareRoot())))
        case .geluTanh:
            let u = Activation.tanhScale * (x + 0.044715 * x * x * x)
            return 0.5 * x * (1 + tanh(u))
        }
    }

    /// d value / dx
    @inline(__always)
    public func derivative(_ x: Float) -> Float {
        switch self {
        case .silu:
            let s = 1 / (1 + exp(-x))
            return s * (1 + x * (1 - s))
        case .geluErf:
            let cdf = 0.5 * (1 + erf(x * Float(0.5.squareRoot())))
            return cdf + x * exp(-0.5 * x * x) / Float((2 * Double.pi).squareRoot())
        case .geluTanh:
            let u = Activation.tanhScale * (x + 0.044715 * x * x * x)
            let t = tanh(u)
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * Activation.tanhScale * (1 + 3 * 0.044715 * x * x)
        }
    }

    static let tanhScale = Float((2 / Double.pi).squareRoot())

    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        Compute.parallelFor(count, minChunk: 8192) { range in
            for i in range { y[i] = value(x[i]) }
        }
    }

    public func backward(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, count: Int) {
        Compute.parallelFor(count, minChunk: 8192) { range in
            for i in range { dx[i] += dy[i] * derivative(x[i]) }
        }
    }

    public func forward(_ x: Tensor) -> Tensor {
        var y = Tensor(zeros: x.shape)
        x.withPointer { px in y.withMutablePointer { py in forward(px, py, count: x.count) } }
        return y
    }

    public func backward(_ dy: Tensor, x: Tensor) throws -> Tensor {
        try Check.sameShape(dy, x, ("dy", "x"), op: "\(rawValue)Backward")
        var dx = Tensor(zeros: x.shape)
        dy.withPointer { pdy in x.withPointer { px in dx.withMutablePointer { pdx in
            backward(dy: pdy, x: px, dx: pdx, count: x.count)
        } } }
        return dx
    }
}

/// SwiGLU of the Llama MLP: out = silu(gate) * up (gate, up, out of equal length).
public enum SwiGLU {
    /// Eight lanes at a time with `VectorMath.silu` (libm's scalar expf was a fifth of a tiny
    /// model's prefill outside OpenBLAS); chunks of whole SIMD8 groups. A decode step's few
    /// rows go to `SpinningWorkers`; a prefill's many to Dispatch, whose workers sleep
    /// afterwards instead of polling beside the OpenBLAS threads of the next GEMM.
    public static func forward(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, count: Int) {
        let groups = (count + 7) / 8
        let chunks = Swift.min(4 * Compute.threads, Swift.max(1, groups / 2048))
        func body(_ chunk: Int) {
            let range = Compute.chunkRange(chunk, of: chunks, count: groups)
            let g = UnsafeRawPointer(gate), u = UnsafeRawPointer(up), o = UnsafeMutableRawPointer(out)
            var i = range.lowerBound * 8
            let end = Swift.min(count, range.upperBound * 8)
            while i + 8 <= end {
                let y = VectorMath.silu(g.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
                    * u.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                o.storeBytes(of: y, toByteOffset: i * 4, as: SIMD8<Float>.self)
                i += 8
            }
            if i < end {
                var x = SIMD8<Float>()
                for j in 0..<(end - i) { x[j] = gate[i + j] }
                let y = VectorMath.silu(x)
                for j in 0..<(end - i) { out[i + j] = y[j] * up[i + j] }
            }
        }
        if count <= 131_072 {
            SpinningWorkers.shared.run(chunks: chunks) { chunk, _ in body(chunk) }
        } else {
            Compute.parallelFor(chunks) { range in range.forEach(body) }
        }
    }

    /// dGate += dOut * up * silu'(gate); dUp += dOut * silu(gate)
    public static func backward(
        dOut: UnsafePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
        dGate: UnsafeMutablePointer<Float>, dUp: UnsafeMutablePointer<Float>, count: Int
    ) {
        Compute.parallelFor(count, minChunk: 8192) { range in
            for i in range {
                let g = gate[i]
                let s = 1 / (1 + exp(-g))
                dGate[i] += dOut[i] * up[i] * s * (1 + g * (1 - s))
                dUp[i] += dOut[i] * g * s
            }
        }
    }

    public static func forward(gate: Tensor, up: Tensor) throws -> Tensor {
        try Check.sameShape(gate, up, ("gate", "up"), op: "swiglu")
        var out = Tensor(zeros: gate.shape)
        gate.withPointer { pg in up.withPointer { pu in out.withMutablePointer { po in
            forward(gate: pg, up: pu, out: po, count: gate.count)
        } } }
        return out
    }

    public static func backward(_ dOut: Tensor, gate: Tensor, up: Tensor) throws -> (dGate: Tensor, dUp: Tensor) {
        try Check.sameShape(gate, up, ("gate", "up"), op: "swigluBackward")
        try Check.sameShape(dOut, gate, ("dOut", "gate"), op: "swigluBackward")
        var dGate = Tensor(zeros: gate.shape), dUp = Tensor(zeros: up.shape)
        dOut.withPointer { pd in gate.withPointer { pg in up.withPointer { pu in
            dGate.withMutablePointer { pdg in dUp.withMutablePointer { pdu in
                backward(dOut: pd, gate: pg, up: pu, dGate: pdg, dUp: pdu, count: gate.count)
            } }
        } } }
        return (dGate, dUp)
    }
}
