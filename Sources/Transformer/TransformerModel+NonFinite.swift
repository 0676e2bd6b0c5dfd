import Tensors

/// A forward that cannot fail silently: weights or settings that make the logits NaN or infinite
/// (a corrupted checkpoint, a config edited by hand) stop generation with an error naming the
/// first stage whose output is not finite, instead of sampling garbage or printing nothing.
extension TransformerModel {
    /// The first of `rows` logits rows `[rows, vocab]` holding a NaN or an infinity, or nil.
    public static func firstNonFiniteRow(_ logits: UnsafePointer<Float>, rows: Int, vocab: Int) -> Int? {
        for r in 0..<rows where !VectorMath.allFinite(logits + r * vocab, vocab) { return r }
        return nil
    }

    /// Where a causal forward over `tokens` first stops being finite: "the token embedding",
    /// "layer 3 (of 30)" or "the final norm and output head"; nil when it stays finite.
    public func firstNonFiniteStage(tokens: [Int]) throws -> String? {
        let ids = tokens.map { Int32(clamping: $0) }
        let positions = (0..<ids.count).map { Int32($0) }
        let n = ids.count, h = config.hiddenSize
        guard n > 0 else { return nil }
        let a = Activations(config: config, capacity: n)
        try ids.withUnsafeBufferPointer { t in
            try positions.withUnsafeBufferPointer { p in
                try check(tokens: t.baseAddress!, positions: p.baseAddress!, count: n)
            }
        }
        let shape = Attention.Shape(tokens: n, qHeads: config.heads, kvHeads: config.kvHeads, headDim: config.headDim)
        let mask = AttentionMask.causal(count: n)
        var stage: String? = nil
        ids.withUnsafeBufferPointer { t in
            positions.withUnsafeBufferPointer { p in
                runLayers(count: n, tokens: t.baseAddress!, positions: p.baseAddress!, activations: a, afterLayer: { l in
                    guard !VectorMath.allFinite(a.x, n * h) else { return true }
                    stage = l < 0 ? "the token embedding" : "layer \(l) (of \(self.config.layers), counting from 0)"
                    return false
                }) { _, L in
                    Attention.forward(q: L.q, k: L.k, v: L.v, out: L.attn, lse: L.lse, shape: shape,
                                      mask: mask, scale: attentionScale)
                }
                if stage == nil {
                    runHead(rows: nil, count: n, activations: a)
                    if Self.firstNonFiniteRow(a.logits, rows: n, vocab: config.vocabSize) != nil {
                        stage = "the final norm and output head"
                    }
                }
            }
        }
        return stage
    }

    /// The error for non-finite logits met while decoding `context` (prompt and tokens so far).
    public func nonFiniteLogitsError(context: [Int], what: String) -> ModelError {
        let stage = (try? firstNonFiniteStage(tokens: context)) ?? nil
        let where_ = stage.map { "the first non-finite values come out of \($0)" }
            ?? "a forward over the prompt and the tokens so far stays finite, so the cache state is to blame"
        return ModelError("the model produced non-finite logits (NaN or infinity) \(what); \(where_). Check the weights and the config's numeric settings (rms_norm_eps, rope_theta)")
    }
}
