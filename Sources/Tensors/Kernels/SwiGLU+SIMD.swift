/// SwiGLU's training backward eight lanes at a time (`VectorMath.sigmoid`); the scalar loop of
/// `SwiGLU.backward` called libm's expf per element (a tenth of a training step on the tiny model).
extension SwiGLU {
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
                let s = VectorMath.sigmoid(g)
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
