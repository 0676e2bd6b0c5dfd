import Tensors

extension TransformerModel {
    /// Reverse of `llamaBlock` for layer l. On entry `s.dx [n, h]` is d loss / d (residual stream
    /// after the layer); on return it is d loss / d (stream entering it). The residual adds pass
    /// `dx` through unchanged, and each norm's backward adds its branch's share on top.
    /// Parameter gradients are added into `gw` (the layer's views of the gradient buffer).
    func llamaBlockBackward(
        layer l: Int, count n: Int, positions: UnsafePointer<Int32>, mask: AttentionMask,
        activations a: Activations, scratch s: GradientScratch, gradients gw: LayerWeights
    ) {
        let c = config, w = layerWeights[l], L = a.layer(l)
        let h = c.hiddenSize, qd = c.heads * c.headDim, kvd = c.kvHeads * c.headDim, i = c.intermediateSize

        // x += down(silu(gate(norm2)) * up(norm2))
        Linear.backward(dOut: s.dx, x: L.act, rows: n, inDim: i, weight: w.down, outDim: h,
                        dx: s.dAct, dWeight: gw.down, dBias: gw.downBias)
        SwiGLU.backwardOverwriting(dOut: s.dAct, gate: L.hidden, up: L.up, dGate: s.dHidden, dUp: s.dUp, count: n * i)
        Linear.backward(dOut: s.dHidden, x: L.norm2, rows: n, inDim: h, weight: w.gate!, outDim: i,
                        dx: s.dNorm, dWeight: gw.gate, dBias: gw.gateBias)
        Linear.backward(dOut: s.dUp, x: L.norm2, rows: n, inDim: h, weight: w.up, outDim: i,
                        dx: s.dNorm, accumulateInput: true, dWeight: gw.up, dBias: gw.upBias)
        RMSNorm.backward(dy: s.dNorm, x: L.xMid, weight: w.norm2, rstd: L.rstd2, dx: s.dx, dWeight: gw.norm2,
                         rows: n, dim: h)

        // x += o(attention(rope(q(norm1)), rope(k(norm1)), v(norm1)))
        Linear.backward(dOut: s.dx, x: L.attn, rows: n, inDim: qd, weight: w.o, outDim: h,
                        dx: s.dAttn, dWeight: gw.o, dBias: gw.oBias)
        s.dq.update(repeating: 0, count: n * qd)
        s.dk.update(repeating: 0, count: n * kvd)
        s.dv.update(repeating: 0, count: n * kvd)
        Attention.backward(dOut: s.dAttn, q: L.q, k: L.k, v: L.v, out: L.attn, lse: L.lse,
                           dq: s.dq, dk: s.dk, dv: s.dv,
                           shape: Attention.Shape(tokens: n, qHeads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim),
                           mask: mask, scale: attentionScale)
        // q and k were rotated after their projections (and biases): rotate the gradients back.
        rope!.applyInverse(s.dq, positions: positions, rows: n, heads: c.heads)
        rope!.applyInverse(s.dk, positions: positions, rows: n, heads: c.kvHeads)
        Linear.backward(dOut: s.dq, x: L.norm1, rows: n, inDim: h, weight: w.q!, outDim: qd,
                        dx: s.dNorm, dWeight: gw.q, dBias: gw.qBias)
        Linear.backward(dOut: s.dk, x: L.norm1, rows: n, inDim: h, weight: w.k!, outDim: kvd,
                        dx: s.dNorm, accumulateInput: true, dWeight: gw.k, dBias: gw.kBias)
        Linear.backward(dOut: s.dv, x: L.norm1, rows: n, inDim: h, weight: w.v!, outDim: kvd,
                        dx: s.dNorm, accumulateInput: true, dWeight: gw.v, dBias: gw.vBias)
        RMSNorm.backward(dy: s.dNorm, x: L.xIn, weight: w.norm1, rstd: L.rstd1, dx: s.dx, dWeight: gw.norm1,
                         rows: n, dim: h)
    }
}
