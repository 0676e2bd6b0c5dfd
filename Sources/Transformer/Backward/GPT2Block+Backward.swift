import Tensors

extension TransformerModel {
    /// Reverse of `gpt2Block` for layer l; `s.dx` as in `llamaBlockBackward`. Conv1D weights
    /// are `[in, out]`; the fused c_attn gradient is assembled as q | k | v columns so that its
    /// weight and input gradients are one GEMM each.
    func gpt2BlockBackward(
        layer l: Int, count n: Int, mask: AttentionMask,
        activations a: Activations, scratch s: GradientScratch, gradients gw: LayerWeights
    ) {
        let c = config, w = layerWeights[l], L = a.layer(l)
        let h = c.hiddenSize, i = c.intermediateSize

        // x += mlp.c_proj(gelu(c_fc(ln_2(x))))
        Linear.backward(dOut: s.dx, x: L.act, rows: n, inDim: i, weight: w.down, outDim: h,
                        dx: s.dAct, dWeight: gw.down, dBias: gw.downBias, outIn: false)
        s.dHidden.update(repeating: 0, count: n * i)
        c.activation.backward(dy: s.dAct, x: L.hidden, dx: s.dHidden, count: n * i)
        Linear.backward(dOut: s.dHidden, x: L.norm2, rows: n, inDim: h, weight: w.up, outDim: i,
                        dx: s.dNorm, dWeight: gw.up, dBias: gw.upBias, outIn: false)
        LayerNorm.backward(dy: s.dNorm, x: L.xMid, weight: w.norm2, mean: L.mean2, rstd: L.rstd2,
                           dx: s.dx, dWeight: gw.norm2, dBias: gw.norm2Bias!, rows: n, dim: h)

        // x += attn.c_proj(attention(split(c_attn(ln_1(x)))))
        Linear.backward(dOut: s.dx, x: L.attn, rows: n, inDim: h, weight: w.o, outDim: h,
                        dx: s.dAttn, dWeight: gw.o, dBias: gw.oBias, outIn: false)
        s.dq.update(repeating: 0, count: n * h)
        s.dk.update(repeating: 0, count: n * h)
        s.dv.update(repeating: 0, count: n * h)
        Attention.backward(dOut: s.dAttn, q: L.q, k: L.k, v: L.v, out: L.attn, lse: L.lse,
                           dq: s.dq, dk: s.dk, dv: s.dv,
                           shape: Attention.Shape(tokens: n, qHeads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim),
                           mask: mask, scale: attentionScale)
        Compute.parallelFor(n, minChunk: 64) { rows in
            for r in rows {
                let row = s.dQKV + r * 3 * h
                row.update(from: s.dq + r * h, count: h)
                (row + h).update(from: s.dk + r * h, count: h)
                (row + 2 * h).update(from: s.dv + r * h, count: h)
            }
        }
        Linear.backward(dOut: s.dQKV, x: L.norm1, rows: n, inDim: h, weight: w.qkv!, outDim: 3 * h,
                        dx: s.dNorm, dWeight: gw.qkv, dBias: gw.qkvBias, outIn: false)
        LayerNorm.backward(dy: s.dNorm, x: L.xIn, weight: w.norm1, mean: L.mean1, rstd: L.rstd1,
                           dx: s.dx, dWeight: gw.norm1, dBias: gw.norm1Bias!, rows: n, dim: h)
    }
}
