import Tensors

extension TransformerModel {
    /// Reverse of `forward(tokens:positions:mask:activations:)`, written by hand as that
    /// forward's call list in reverse (llm.c style).
    ///
    /// `activations` (made with `keepsLayers: true`) must hold that forward of the same tokens,
    /// positions and mask; on entry `activations.logits [r, vocab]` holds d loss / d logits of
    /// the r rows that forward computed (all n, or its `logitRows`; it is consumed: afterwards it
    /// holds nothing useful). The gradient of every parameter is
    /// ADDED into `gradients` (a `Parameters` of this model's layout), so micro-batches
    /// accumulate. A tied head's gradient and the embedding's land in the one shared parameter.
    public func backward(tokens: [Int32], positions: [Int32], mask: AttentionMask, activations a: Activations, gradients: Parameters) throws {
        let n = tokens.count
        guard positions.count == n, mask.count == n else {
            throw ModelError("backward: expected \(n) position ids and a mask over \(n) tokens, found \(positions.count) and \(mask.count)")
        }
        guard a.keepsLayers else {
            throw ModelError("backward: the activations were made without keepsLayers, so the layers' intermediates are gone")
        }
        guard n <= a.capacity, n <= a.logitCapacity else {
            throw ModelError("backward: \(n) tokens exceed the activations' capacity (\(a.capacity) tokens, \(a.logitCapacity) logit rows)")
        }
        guard gradients.specs == parameters.specs else {
            throw ModelError("backward: the gradients' layout differs from the model's parameters")
        }
        if let rows = a.logitRows, let last = rows.last, Int(last) >= n {
            throw ModelError("backward: the forward computed logits of row \(last), beyond these \(n) tokens (run the forward of the same sequence first)")
        }
        if n == 0 { return }
        try tokens.withUnsafeBufferPointer { t in
            try positions.withUnsafeBufferPointer { p in
                guard let t = t.baseAddress, let p = p.baseAddress else { return }
                try check(tokens: t, positions: p, count: n)
                backwardBody(count: n, tokens: t, positions: p, mask: mask, activations: a, gradients: gradients)
            }
        }
    }

    private func backwardBody(
        count n: Int, tokens: UnsafePointer<Int32>, positions: UnsafePointer<Int32>, mask: AttentionMask,
        activations a: Activations, gradients g: Parameters
    ) {
        let c = config, h = c.hiddenSize, vocab = c.vocabSize
        let s = a.gradientScratch()
        let dEmbedding = g[c.embeddingName]

        // logits = finalOut head^T; then the final norm of the residual stream. Over the r rows
        // that have logits (`a.logitRows`, else all n): dNorm and dx's first r rows are theirs.
        let r = a.logitRows?.count ?? n
        Linear.backward(dOut: a.logits, x: a.finalOut, rows: r, inDim: h, weight: head, outDim: vocab,
                        dx: s[.dNorm], dWeight: c.tiedEmbeddings ? dEmbedding : g["lm_head.weight"], dBias: nil)
        let dx = s[.dx], family = c.family.architecture
        dx.update(repeating: 0, count: n * h)
        if let bias = family.finalNormBiasName {
            LayerNorm.backward(dy: s[.dNorm], x: a.finalIn, weight: finalNorm, mean: a.finalMean, rstd: a.finalRstd,
                               dx: dx, dWeight: g[family.finalNormName], dBias: g[bias], rows: r, dim: h)
        } else {
            RMSNorm.backward(dy: s[.dNorm], x: a.finalIn, weight: finalNorm, rstd: a.finalRstd, dx: dx,
                             dWeight: g[family.finalNormName], rows: r, dim: h)
        }
        if let rows = a.logitRows { Self.scatterRows(dx, rows: rows, width: h) }

        for l in (0..<c.layers).reversed() {
            layers.backward(layer: l, count: n, positions: positions, mask: mask, activations: a, scratch: s, gradients: g)
        }

        // x = embedding[tokens] (+ learned positions)
        Embedding.backward(dOut: dx, ids: tokens, dTable: dEmbedding, tokens: n, dim: h)
        if let name = family.positionEmbeddingName {
            Embedding.backward(dOut: dx, ids: positions, dTable: g[name], tokens: n, dim: h)
        }
    }

    /// Moves compact row i of `x` `[n, width]` (rows 0..<rows.count) to row rows[i] and zeroes
    /// every other row, in place. Last row first: rows ascend and are distinct, so rows[i] >= i
    /// and no row is overwritten before it has moved.
    static func scatterRows(_ x: UnsafeMutablePointer<Float>, rows: [Int32], width: Int) {
        for i in rows.indices.reversed() where Int(rows[i]) != i {
            (x + Int(rows[i]) * width).update(from: x + i * width, count: width)
            (x + i * width).update(repeating: 0, count: width)
        }
    }
}
