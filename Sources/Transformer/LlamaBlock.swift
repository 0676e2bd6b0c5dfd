import Tensors

extension TransformerModel {
    /// One Llama / Qwen2 decoder layer over n rows, updating the residual stream `a.x [n, h]`:
    ///   x += o_proj(attention(rope(q_proj(rms1(x))), rope(k_proj(.)), v_proj(.)))
    ///   x += down_proj(silu(gate_proj(rms2(x))) * up_proj(rms2(x)))
    /// Qwen2 adds q/k/v biases (nil for Llama unless `attention_bias`).
    func llamaBlock(
        layer l: Int, count n: Int, positions: UnsafePointer<Int32>, activations a: Activations,
        attend: (Int, Activations.Layer) -> Void
    ) {
        let c = config, w = layerWeights[l], L = a.layer(l)
        let h = c.hiddenSize, qd = c.heads * c.headDim, kvd = c.kvHeads * c.headDim, i = c.intermediateSize
        if a.keepsLayers { L.xIn.update(from: a.x, count: n * h) }
        RMSNorm.forward(x: a.x, weight: w.norm1, y: L.norm1, rstd: L.rstd1, rows: n, dim: h, eps: c.normEps)
        Linear.forward(L.norm1, rows: n, inDim: h, weight: w.q!, outDim: qd, bias: w.qBias, out: L.q)
        Linear.forward(L.norm1, rows: n, inDim: h, weight: w.k!, outDim: kvd, bias: w.kBias, out: L.k)
        Linear.forward(L.norm1, rows: n, inDim: h, weight: w.v!, outDim: kvd, bias: w.vBias, out: L.v)
        rope!.apply(L.q, positions: positions, rows: n, heads: c.heads)
        rope!.apply(L.k, positions: positions, rows: n, heads: c.kvHeads)
        attend(l, L)
        Linear.forward(L.attn, rows: n, inDim: qd, weight: w.o, outDim: h, bias: w.oBias, out: a.x, accumulate: true)

        if a.keepsLayers { L.xMid.update(from: a.x, count: n * h) }
        RMSNorm.forward(x: a.x, weight: w.norm2, y: L.norm2, rstd: L.rstd2, rows: n, dim: h, eps: c.normEps)
        Linear.forward(L.norm2, rows: n, inDim: h, weight: w.gate!, outDim: i, bias: w.gateBias, out: L.hidden)
        Linear.forward(L.norm2, rows: n, inDim: h, weight: w.up, outDim: i, bias: w.upBias, out: L.up)
        SwiGLU.forward(gate: L.hidden, up: L.up, out: L.act, count: n * i)
        Linear.forward(L.act, rows: n, inDim: i, weight: w.down, outDim: h, bias: w.downBias, out: a.x, accumulate: true)
    }
}
