import Tensors

/// Pointers into `Parameters` for one layer, resolved once by canonical Hugging Face name.
/// Llama/Qwen2 Linear weights are `[out, in]`; GPT-2 Conv1D weights are `[in, out]` (`c_attn`
/// fused `[h, 3h]`). Absent biases are nil.
struct LayerWeights {
    typealias P = UnsafeMutablePointer<Float>
    var norm1: P, norm1Bias: P?, norm2: P, norm2Bias: P?
    // Llama / Qwen2
    var q: P?, qBias: P?, k: P?, kBias: P?, v: P?, vBias: P?
    // GPT-2 c_attn
    var qkv: P?, qkvBias: P?
    /// Output projection: o_proj `[h, qd]` or GPT-2 attn.c_proj `[h, h]` (Conv1D).
    var o: P, oBias: P?
    /// Llama gate_proj `[i, h]` (nil for GPT-2).
    var gate: P?, gateBias: P?
    /// Llama up_proj `[i, h]`, or GPT-2 mlp.c_fc `[h, i]` (Conv1D).
    var up: P, upBias: P?
    /// Llama down_proj `[h, i]`, or GPT-2 mlp.c_proj `[i, h]` (Conv1D).
    var down: P, downBias: P?

    static func resolve(_ p: Parameters, config c: ModelConfig, layer l: Int) -> LayerWeights {
        func opt(_ name: String) -> P? { p.entry(name) != nil ? p[name] : nil }
        switch c.family {
        case .llama, .qwen2:
            let s = "model.layers.\(l)."
            return LayerWeights(
                norm1: p[s + "input_layernorm.weight"], norm1Bias: nil,
                norm2: p[s + "post_attention_layernorm.weight"], norm2Bias: nil,
                q: p[s + "self_attn.q_proj.weight"], qBias: opt(s + "self_attn.q_proj.bias"),
                k: p[s + "self_attn.k_proj.weight"], kBias: opt(s + "self_attn.k_proj.bias"),
                v: p[s + "self_attn.v_proj.weight"], vBias: opt(s + "self_attn.v_proj.bias"),
                qkv: nil, qkvBias: nil,
                o: p[s + "self_attn.o_proj.weight"], oBias: opt(s + "self_attn.o_proj.bias"),
                gate: p[s + "mlp.gate_proj.weight"], gateBias: opt(s + "mlp.gate_proj.bias"),
                up: p[s + "mlp.up_proj.weight"], upBias: opt(s + "mlp.up_proj.bias"),
                down: p[s + "mlp.down_proj.weight"], downBias: opt(s + "mlp.down_proj.bias"))
        case .gpt2:
            let s = "transformer.h.\(l)."
            return LayerWeights(
                norm1: p[s + "ln_1.weight"], norm1Bias: p[s + "ln_1.bias"],
                norm2: p[s + "ln_2.weight"], norm2Bias: p[s + "ln_2.bias"],
                q: nil, qBias: nil, k: nil, kBias: nil, v: nil, vBias: nil,
                qkv: p[s + "attn.c_attn.weight"], qkvBias: p[s + "attn.c_attn.bias"],
                o: p[s + "attn.c_proj.weight"], oBias: p[s + "attn.c_proj.bias"],
                gate: nil, gateBias: nil,
                up: p[s + "mlp.c_fc.weight"], upBias: p[s + "mlp.c_fc.bias"],
                down: p[s + "mlp.c_proj.weight"], downBias: p[s + "mlp.c_proj.bias"])
        }
    }
}

/// Linear layers as one GEMM over all rows.
enum Linear {
    /// out `[rows, outDim]` = x `[rows, inDim]` * W (+ bias), or += with `accumulate` (the
    /// residual add for free). `outIn`: W is HF Linear `[outDim, inDim]` (x W^T); otherwise a
    /// GPT-2 Conv1D `[inDim, outDim]` (x W).
    @inline(__always)
    static func forward(
        _ x: UnsafePointer<Float>, rows: Int, inDim: Int, weight: UnsafePointer<Float>, outDim: Int,
        bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>, accumulate: Bool = false, outIn: Bool = true
    ) {
        var beta: Float = accumulate ? 1 : 0
        if let bias, !accumulate {
            // Start every row at the bias, then accumulate the product onto it.
            for r in 0..<rows { (out + r * outDim).update(from: bias, count: outDim) }
            beta = 1
        }
        Gemm.compute(transposeA: false, transposeB: outIn, m: rows, n: outDim, k: inDim,
                     a: x, b: weight, beta: beta, c: out)
        if let bias, accumulate { Elementwise.biasAdd(out, bias: bias, rows: rows, cols: outDim) }
    }
}
