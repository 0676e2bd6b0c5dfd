import Foundation

/// Rotary position embedding in the Hugging Face "rotate half" convention.
///
/// For a head vector x of size `headDim` (even), half = headDim / 2, frequency
/// f_i = theta^(-2i / headDim) and angle a_i = position * f_i (i < half):
///   y[i]        = x[i] * cos(a_i) - x[i + half] * sin(a_i)
///   y[i + half] = x[i + half] * cos(a_i) + x[i] * sin(a_i)
/// Each token carries its own position id (a packed tree uses the path depth), so x is
/// `[tokens, heads, headDim]` and positions `[tokens]`. The backward is the rotation by -a.
public enum RoPE {
    /// f_i in Float32, computed as transformers does (theta ** (arange(0, d, 2) / d) in float32).
    public static func inverseFrequencies(headDim: Int, theta: Float) -> [Float] {
        (0..<(headDim / 2)).map { i in
            1 / Float(pow(Double(theta), Double(Float(2 * i) / Float(headDim))))
        }
    }

    /// Rotates x in place (forward when `inverse` is false; the backward applies `inverse: true`
    /// to the incoming gradient).
    public static func apply(
        _ x: UnsafeMutablePointer<Float>, positions: UnsafePointer<Int32>, tokens: Int, heads: Int, headDim: Int,
        inverseFrequencies: [Float], inverse: Bool = false
    ) {
        let half = headDim / 2
        inverseFrequencies.withUnsafeBufferPointer { freq in
            Compute.parallelFor(tokens, minChunk: 8) { range in
                var cosines = [Float](repeating: 0, count: half), sines = [Float](repeating: 0, count: half)
                for t in range {
                    let p = Float(positions[t])
                    for i in 0..<half {
                        // The angle is rounded to Float32 first, as transformers' float32 matmul does.
                        let angle = Double(p * freq[i])
                        cosines[i] = Float(cos(angle))
                        sines[i] = inverse ? -Float(sin(angle)) : Float(sin(angle))
                    }
                    for h in 0..<heads {
                        let v = x + (t * heads + h) * headDim
                        for i in 0..<half {
                            let a = v[i], b = v[i + half]
                            v[i] = a * cosines[i] - b * sines[i]
                            v[i + half] = b * cosines[i] + a * sines[i]
                        }
                    }
                }
            }
        }
    }
}

extension RoPE {
    static func check(_ x: Tensor, _ positions: [Int32], op: String) throws -> (Int, Int, Int) {
        try Check.rank(x, 3, "x [tokens, heads, headDim]", op: op)
        let (tokens, heads, headDim) = (x.shape[0], x.shape[1], x.shape[2])
        try Check.that(headDim % 2 == 0, op: op, "head dimension must be even, found x \(x.shape)")
        try Check.that(positions.count == tokens, op: op,
                       "expected \(tokens) position ids for x \(x.shape), found \(positions.count)")
        if let bad = positions.firstIndex(where: { $0 < 0 }) {
            throw TensorError(op: op, "position id \(positions[bad]) at token \(bad) is negative")
        }
        return (tokens, heads, headDim)
    }

    /// x `[tokens, heads, headDim]`, positions `[tokens]` -> rotated x
    public static func forward(_ x: Tensor, positions: [Int32], theta: Float) throws -> Tensor {
        try rotate(x, positions: positions, theta: theta, inverse: false, op: "rope")
    }

    /// dx from dy (the inverse rotation).
    public static func backward(_ dy: Tensor, positions: [Int32], theta: Float) throws -> Tensor {
        try rotate(dy, positions: positions, theta: theta, inverse: true, op: "ropeBackward")
    }

    private static func rotate(_ x: Tensor, positions: [Int32], theta: Float, inverse: Bool, op: String) throws -> Tensor {
        let (tokens, heads, headDim) = try check(x, positions, op: op)
        var y = x
        let freq = inverseFrequencies(headDim: headDim, theta: theta)
        y.withMutablePointer { py in positions.withUnsafeBufferPointer { pp in
            if let base = pp.baseAddress {
                apply(py, positions: base, tokens: tokens, heads: heads, headDim: headDim,
                      inverseFrequencies: freq, inverse: inverse)
            }
        } }
        return y
    }
}
