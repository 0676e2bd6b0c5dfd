/// SwiGLU eight lanes at a time: sigmoid from e = exp(-|gate|) (never overflows), as
/// 1 / (1 + e) for gate >= 0 and e / (1 + e) below. The scalar loops of `SwiGLU` called
/// libm's expf per element (a tenth of a training step on the tiny model).
extension SwiGLU {
    @inline(__always)
    static func sigmoid(_ g: SIMD8<Float>) -> SIMD8<Float> {
        let negative: SIMDMask<SIMD8<Int32>> = g .< 0
        let minusAbs: SIMD8<Float> = g.replacing(with: 0 - g, where: .!negative)
        let e: SIMD8<Float> = VectorMath.expNonPositive(minusAbs)
        let one = SIMD8<Float>(repeating: 1)
        return one.replacing(with: e, where: negative) / (one + e)
    }

    /// out = silu(gate) * up = gate * sigmoid(gate) * up.
    static func forwardSIMD(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, count: Int) {
        Compute.parallelFor(count / 8, minChunk: 1024) { range in
            let gate = UnsafeRawPointer(gate), up = UnsafeRawPointer(up), out = UnsafeMutableRawPointer(out)
            for c in range {
                let at = c * 32
                let g = gate.loadUnaligned(fromByteOffset: at, as: SIMD8<Float>.self)
                let u = up.loadUnaligned(fromByteOffset: at, as: SIMD8<Float>.self)
                out.storeBytes(of: g * sigmoid(g) * u, toByteOffset: at, as: SIMD8<Float>.self)
            }
        }
        for i in (count / 8 * 8)..<count { out[i] = Activation.silu.value(gate[i]) * up[i] }
    }

    /// The backward of `forward` that *overwrites* (the training backward's buffers need no
    /// zeroing pass first):
    ///   dGate = dOut * up * s (1 + gate (1 - s)),  dUp = dOut * gate * s,  s = sigmoid(gate).
    /// `SwiGLU.backward` (accumulating, scalar) stays the reference.
    public static func backwardOverwriting(
        dOut: UnsafePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
        dGate: UnsafeMutablePointer<Float>, dUp: UnsafeMutablePointer<Float>, count: Int
    ) {
        Compute.parallelFor(count / 8, minChunk: 1024) { range in
            let dOut = UnsafeRawPointer(dOut), gate = UnsafeRawPointer(gate), up = UnsafeRawPointer(up)
            let dGate = UnsafeMutableRawPointer(dGate), dUp = UnsafeMutableRawPointer(dUp)
            for c in range {
                let at = c * 32
                let g = gate.loadUnaligned(fromByteOffset: at, as: SIMD8<Float>.self)
                let d = dOut.loadUnaligned(fromByteOffset: at, as: SIMD8<Float>.self)
                let u = up.loadUnaligned(fromByteOffset: at, as: SIMD8<Float>.self)
                let s = sigmoid(g)
                let ds: SIMD8<Float> = d * s
                let slope: SIMD8<Float> = 1 + g * (1 - s)
                dGate.storeBytes(of: ds * u * slope, toByteOffset: at, as: SIMD8<Float>.self)
                dUp.storeBytes(of: ds * g, toByteOffset: at, as: SIMD8<Float>.self)
            }
        }
        let tail = count / 8 * 8
        for i in tail..<count {
            dGate[i] = 0
            dUp[i] = 0
        }
        if tail < count {
            backward(dOut: dOut + tail, gate: gate + tail, up: up + tail, dGate: dGate + tail, dUp: dUp + tail, count: count - tail)
        }
    }
}
