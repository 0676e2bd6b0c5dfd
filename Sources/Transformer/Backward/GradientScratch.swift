import Tensors

/// Gradient buffers of one backward pass, allocated once for up to `capacity` tokens and kept
/// by the `Activations` they belong to (made on the first backward): nothing is allocated per
/// call. Shapes (n = tokens, h = hidden, qd = heads * headDim, kvd = kvHeads * headDim,
/// i = intermediate size):
final class GradientScratch {
    let capacity: Int
    /// `[n, h]` d loss / d residual stream, carried from the head down to the embedding.
    let dx: UnsafeMutablePointer<Float>
    /// `[n, h]` gradient at a norm's output (the input of the projections that read it).
    let dNorm: UnsafeMutablePointer<Float>
    /// `[n, qd]` gradient at the attention output (input of the output projection).
    let dAttn: UnsafeMutablePointer<Float>
    /// `[n, qd]`, `[n, kvd]`, `[n, kvd]` gradients at q, k (after RoPE, then rotated back), v.
    let dq: UnsafeMutablePointer<Float>
    let dk: UnsafeMutablePointer<Float>
    let dv: UnsafeMutablePointer<Float>
    /// `[n, 3h]` GPT-2's fused c_attn output gradient (q | k | v columns); empty otherwise.
    let dQKV: UnsafeMutablePointer<Float>
    /// `[n, i]` gradients at the MLP activation output, its pre-activation (gate or c_fc), up.
    let dAct: UnsafeMutablePointer<Float>
    let dHidden: UnsafeMutablePointer<Float>
    let dUp: UnsafeMutablePointer<Float>
    private let base: UnsafeMutablePointer<Float>

    init(config c: ModelConfig, capacity n: Int) {
        capacity = n
        let h = c.hiddenSize, qd = c.heads * c.headDim, kvd = c.kvHeads * c.headDim, i = c.intermediateSize
        let gpt2 = c.family == .gpt2
        // 16-float alignment per buffer, as Activations.
        let sizes = [n * h, n * h, n * qd, n * qd, n * kvd, n * kvd, gpt2 ? n * 3 * h : 0, n * i, n * i, gpt2 ? 0 : n * i]
            .map { ($0 + 15) / 16 * 16 }
        let total = max(1, sizes.reduce(0, +))
        base = .allocate(capacity: total)
        base.initialize(repeating: 0, count: total)
        var offsets: [UnsafeMutablePointer<Float>] = []
        var at = 0
        for s in sizes { offsets.append(base + at); at += s }
        (dx, dNorm, dAttn, dq, dk, dv, dQKV, dAct, dHidden, dUp) =
            (offsets[0], offsets[1], offsets[2], offsets[3], offsets[4], offsets[5], offsets[6], offsets[7], offsets[8], offsets[9])
    }

    deinit { base.deallocate() }
}

extension Activations {
    /// The backward pass's buffers for this activation set, made on first use.
    func gradientScratch(config: ModelConfig) -> GradientScratch {
        if let s = backwardScratch { return s }
        let s = GradientScratch(config: config, capacity: capacity)
        backwardScratch = s
        return s
    }
}
