import Tensors

extension TransformerModel {
    /// One GPT-2 block over n rows, updating the residual stream `a.x [n, h]`:
    ///   q, k, v = split(c_attn(ln_1(x)))        (Conv1D [h, 3h] + bias, columns q | k | v)
    ///   x += attn.c_proj(attention(q, k, v))     (Conv1D [h, h] + bias)
    ///   x += mlp.c_proj(gelu_tanh(c_fc(ln_2(x))))
    func gpt2Block(layer l: Int, count n: Int, activations a: Activations, attend: (Int, Activations.Layer) -> Void) {
        let c = config, w = layerWeights[l], L = a.layer(l)
        let h = c.hiddenSize, i = c.intermediateSize
        if a.keepsLayers { L.xIn.update(from: a.x, count: n * h) }
        LayerNorm.forward(x: a.x, weight: w.norm1, bias: w.norm1Bias!, y: L.norm1, mean: L.mean1, rstd: L.rstd1,
                          rows: n, dim: h, eps: c.normEps)
        Linear.forward(L.norm1, rows: n, inDim: h, weight: w.qkv!, outDim: 3 * h, bias: w.qkvBias, out: L.qkv, outIn: false)
        // The attention kernels take q, k, v as separate `[n, h]` arrays.
        for r in 0..<n {
            let row = L.qkv + r * 3 * h
            (L.q + r * h).update(from: row, count: h)
            (L.k + r * h).update(from: row + h, count: h)
            (L.v + r * h).update(from: row + 2 * h, count: h)
        }
        attend(l, L)
        Linear.forward(L.attn, rows: n, inDim: h, weight: w.o, outDim: h, bias: w.oBias, out: a.x, accumulate: true, outIn: false)

        if a.keepsLayers { L.xMid.update(from: a.x, count: n * h) }
        LayerNorm.forward(x: a.x, weight: w.norm2, bias: w.norm2Bias!, y: L.norm2, mean: L.mean2, rstd: L.rstd2,
                          rows: n, dim: h, eps: c.normEps)
        Linear.forward(L.norm2, rows: n, inDim: h, weight: w.up, outDim: i, bias: w.upBias, out: L.hidden, outIn: false)
        c.activation.forward(L.hidden, L.act, count: n * i)
        Linear.forward(L.act, rows: n, inDim: i, weight: w.down, outDim: h, bias: w.downBias, out: a.x, accumulate: true, outIn: false)
    }
}
