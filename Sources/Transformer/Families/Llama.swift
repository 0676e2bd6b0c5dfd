import ModelFiles
import Tensors

/// Llama / SmolLM2 (`model_type` llama) and Qwen2 (qwen2, the same layer with q/k/v biases):
///   x += o_proj(attention(rope(q_proj(rms1(x))), rope(k_proj(.)), v_proj(.)))
///   x += down_proj(silu(gate_proj(rms2(x))) * up_proj(rms2(x)))
/// Linear weights are Hugging Face `[out, in]`; biases only where the config asks for them.
public enum Llama: Architecture {
    public typealias P = UnsafeMutablePointer<Float>

    // MARK: Configuration

    public static var sizeFields: SizeFieldNames { SizeFieldNames() }

    public static func readSettings(_ hf: HFConfig, into c: inout ModelConfig, file: String) throws {
        guard c.intermediateSize > 0 else {
            throw ModelConfigError(file: file, field: "intermediate_size", "expected a value, found none")
        }
        if hf.maxPositionEmbeddings == nil { c.maxPositions = 2048 }
        c.normEps = try ModelConfig.positiveFloat(hf.normEpsilon ?? 1e-6, field: "rms_norm_eps", file: file)
        c.ropeTheta = try ModelConfig.positiveFloat(hf.ropeTheta ?? 10_000, field: "rope_theta", file: file)
        c.tiedEmbeddings = hf.tieWordEmbeddings ?? false
        let attentionBias = hf.attentionBias ?? false
        c.qkvBias = c.family == .qwen2 || attentionBias
        c.outputBias = c.family == .llama && attentionBias
        c.mlpBias = hf.mlpBias ?? false
        try requireSilu(hf, file: file)
        c.activation = .silu
        try ModelConfig.refuseRopeScaling(hf, file: file)
        if c.family == .qwen2 { try refuseSlidingWindow(hf, file: file) }
    }

    public static func validate(_ c: ModelConfig, file: String) throws {
        guard c.headDim % 2 == 0 else {
            throw ModelConfigError(file: file, field: "head_dim", "expected an even number for RoPE, found \(c.headDim)")
        }
    }

    static func requireSilu(_ hf: HFConfig, file: String) throws {
        let act = hf.hiddenAct ?? "silu"
        guard act == "silu" else { throw ModelConfigError(file: file, field: "hidden_act", "expected silu, found \"\(act)\"") }
    }

    static func refuseSlidingWindow(_ hf: HFConfig, file: String) throws {
        if hf.useSlidingWindow == true {
            throw ModelConfigError(file: file, field: "use_sliding_window",
                                   "expected false (sliding-window attention is not implemented), found true")
        }
    }

    public static func ggufSettings(_ m: GGUFMetadata, sizes: GGUFSizes) throws -> [String: JSONValue] {
        let arch = m.arch
        guard let feedForward = sizes.feedForward else { throw m.missing("\(arch).feed_forward_length") }
        let kvHeads = try m.int("\(arch).attention.head_count_kv") ?? sizes.heads
        let headDim = try m.int("\(arch).attention.key_length") ?? (sizes.heads > 0 ? sizes.hidden / sizes.heads : 0)
        if let rotary = try m.int("\(arch).rope.dimension_count"), rotary != headDim {
            throw m.unsupported("\(arch).rope.dimension_count",
                                "expected the head size \(headDim) (partial rotary embeddings are not implemented), found \(rotary)")
        }
        let epsKey = "\(arch).attention.layer_norm_rms_epsilon"
        guard let eps = try m.double(epsKey) else { throw m.missing(epsKey) }
        let architectures = ["llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM"]
        var object: [String: JSONValue] = [
            "architectures": .array([.string(architectures[arch] ?? arch)]),
            "hidden_size": .int(Int64(sizes.hidden)), "intermediate_size": .int(Int64(feedForward)),
            "num_hidden_layers": .int(Int64(sizes.layers)), "num_attention_heads": .int(Int64(sizes.heads)),
            "num_key_value_heads": .int(Int64(kvHeads)), "head_dim": .int(Int64(headDim)),
            "max_position_embeddings": .int(Int64(sizes.context)), "rms_norm_eps": .double(eps),
            "rope_theta": .double(try m.double("\(arch).rope.freq_base") ?? 10_000),
            "hidden_act": .string("silu"), "tie_word_embeddings": .bool(!m.hasTensor("output.weight")),
        ]
        if arch == "llama" {
            object["attention_bias"] = .bool(m.hasTensor("blk.0.attn_q.bias"))
            object["mlp_bias"] = .bool(m.hasTensor("blk.0.ffn_up.bias"))
        } else {
            object["use_sliding_window"] = .bool(false)
        }
        return object
    }

    // MARK: Parameters and names

    public static func parameterSpecs(_ c: ModelConfig) -> [ParameterSpec] {
        var specs = [ParameterSpec("model.embed_tokens.weight", [c.vocabSize, c.hiddenSize])]
        for l in 0..<c.layers { specs += layerSpecs(c, layer: l) }
        specs.append(ParameterSpec("model.norm.weight", [c.hiddenSize]))
        if !c.tiedEmbeddings { specs.append(ParameterSpec("lm_head.weight", [c.vocabSize, c.hiddenSize])) }
        return specs
    }

    /// One layer's parameters; `extra` is inserted after the k projection (Qwen3's norms).
    static func layerSpecs(_ c: ModelConfig, layer l: Int, afterAttention extra: [ParameterSpec] = []) -> [ParameterSpec] {
        let h = c.hiddenSize, q = c.heads * c.headDim, kv = c.kvHeads * c.headDim, i = c.intermediateSize
        let p = "model.layers.\(l)."
        var specs = [ParameterSpec(p + "input_layernorm.weight", [h])]
        for (name, out) in [("q_proj", q), ("k_proj", kv), ("v_proj", kv)] {
            specs.append(ParameterSpec(p + "self_attn.\(name).weight", [out, h]))
            if c.qkvBias { specs.append(ParameterSpec(p + "self_attn.\(name).bias", [out])) }
        }
        specs.append(ParameterSpec(p + "self_attn.o_proj.weight", [h, q]))
        if c.outputBias { specs.append(ParameterSpec(p + "self_attn.o_proj.bias", [h])) }
        specs += extra
        specs.append(ParameterSpec(p + "post_attention_layernorm.weight", [h]))
        for (name, shape) in [("gate_proj", [i, h]), ("up_proj", [i, h]), ("down_proj", [h, i])] {
            specs.append(ParameterSpec(p + "mlp.\(name).weight", shape))
            if c.mlpBias { specs.append(ParameterSpec(p + "mlp.\(name).bias", [shape[0]])) }
        }
        return specs
    }

    public static var embeddingName: String { "model.embed_tokens.weight" }
    public static var positionEmbeddingName: String? { nil }
    public static var finalNormName: String { "model.norm.weight" }
    public static var finalNormBiasName: String? { nil }
    public static var normHasMean: Bool { false }
    public static func isIgnoredCheckpointName(_ name: String) -> Bool { name.hasSuffix(".rotary_emb.inv_freq") }
    public static func storesInputFirst(_ parameter: String) -> Bool { false }

    /// llama.cpp's names (convert_hf_to_gguf.py, as the GGUF docs describe them): `token_embd`,
    /// `output_norm`, `output`, and per layer `blk.N.attn_norm`, `attn_{q,k,v,output}`,
    /// `ffn_norm`, `ffn_{gate,up,down}`. For llama only, the q and k projections (weights and
    /// biases) are stored with their rows permuted so each head's rotary pairs are adjacent
    /// (qwen2's converter does not permute: checked on a known checkpoint by
    /// tools/make_gguf_model_fixtures.py).
    static let ggufLayerModules: [String: String] = [
        "attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
        "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj", "ffn_norm": "post_attention_layernorm",
        "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj",
    ]

    public static func huggingFaceName(gguf name: String, family: ModelFamily) -> (name: String, layout: StoredLayout)? {
        huggingFaceName(gguf: name, family: family, modules: ggufLayerModules)
    }

    static func huggingFaceName(gguf name: String, family: ModelFamily, modules: [String: String]) -> (name: String, layout: StoredLayout)? {
        switch name {
        case "token_embd.weight": return ("model.embed_tokens.weight", .same)
        case "output_norm.weight": return ("model.norm.weight", .same)
        case "output.weight": return ("lm_head.weight", .same)
        default: break
        }
        guard let (layer, module, kind) = GGUFLayerName.split(name), let hf = modules[module] else { return nil }
        let layout: StoredLayout = family == .llama && (module == "attn_q" || module == "attn_k") ? .rotaryPermuted : .same
        return ("model.layers.\(layer).\(hf).\(kind)", layout)
    }

    // MARK: Buffers

    public static func layerBuffers(_ c: ModelConfig, tokens n: Int, keepsLayers: Bool) -> [BufferPlan.Buffer] {
        let h = c.hiddenSize, qd = c.heads * c.headDim, kvd = c.kvHeads * c.headDim, i = c.intermediateSize
        return [
            .init(.xIn, keepsLayers ? mul(n, h) : 0), .init(.norm1, mul(n, h)), .init(.rstd1, n),
            .init(.q, mul(n, qd)), .init(.k, mul(n, kvd)), .init(.v, mul(n, kvd)), .init(.attn, mul(n, qd)),
            .init(.lse, mul(n, c.heads)),
            .init(.xMid, keepsLayers ? mul(n, h) : 0), .init(.norm2, mul(n, h)), .init(.rstd2, n),
            .init(.hidden, mul(n, i)), .init(.up, mul(n, i)), .init(.act, mul(n, i)),
        ]
    }

    public static func gradientBuffers(_ c: ModelConfig, tokens n: Int) -> [BufferPlan.Buffer] {
        let h = c.hiddenSize, qd = c.heads * c.headDim, kvd = c.kvHeads * c.headDim, i = c.intermediateSize
        return [
            .init(.dx, mul(n, h)), .init(.dNorm, mul(n, h)), .init(.dAttn, mul(n, qd)),
            .init(.dq, mul(n, qd)), .init(.dk, mul(n, kvd)), .init(.dv, mul(n, kvd)),
            .init(.dAct, mul(n, i)), .init(.dHidden, mul(n, i)), .init(.dUp, mul(n, i)),
        ]
    }

    // MARK: Weights

    /// One layer's weights in `Parameters` (the model's, or a gradient buffer of the same layout).
    struct Weights {
        var norm1: P, q: P, qBias: P?, k: P, kBias: P?, v: P, vBias: P?, o: P, oBias: P?
        var norm2: P, gate: P, gateBias: P?, up: P, upBias: P?, down: P, downBias: P?

        init(_ p: Parameters, layer l: Int) {
            let s = "model.layers.\(l)."
            func opt(_ name: String) -> P? { p.entry(s + name) != nil ? p[s + name] : nil }
            norm1 = p[s + "input_layernorm.weight"]; norm2 = p[s + "post_attention_layernorm.weight"]
            q = p[s + "self_attn.q_proj.weight"]; qBias = opt("self_attn.q_proj.bias")
            k = p[s + "self_attn.k_proj.weight"]; kBias = opt("self_attn.k_proj.bias")
            v = p[s + "self_attn.v_proj.weight"]; vBias = opt("self_attn.v_proj.bias")
            o = p[s + "self_attn.o_proj.weight"]; oBias = opt("self_attn.o_proj.bias")
            gate = p[s + "mlp.gate_proj.weight"]; gateBias = opt("mlp.gate_proj.bias")
            up = p[s + "mlp.up_proj.weight"]; upBias = opt("mlp.up_proj.bias")
            down = p[s + "mlp.down_proj.weight"]; downBias = opt("mlp.down_proj.bias")
        }
    }

    public static func makeLayers(_ parameters: Parameters, config: ModelConfig) -> any DecoderLayers {
        Layers(parameters, config: config)
    }

    // MARK: Forward and backward

    final class Layers: DecoderLayers {
        let c: ModelConfig, weights: [Weights], rope: RopeTable

        init(_ p: Parameters, config: ModelConfig) {
            c = config
            weights = (0..<config.layers).map { Weights(p, layer: $0) }
            rope = RopeTable(headDim: config.headDim, theta: config.ropeTheta, positions: config.maxPositions)
        }

        func forward(layer l: Int, count n: Int, positions: UnsafePointer<Int32>, activations a: Activations,
                     attend: (Int, Activations.Layer) -> Void) {
            let w = weights[l], L = a.layer(l)
            let h = c.hiddenSize, qd = c.heads * c.headDim, kvd = c.kvHeads * c.headDim
            Llama.normIn(L, x: a.x, weight: w.norm1, keeps: a.keepsLayers, c, n, .xIn, .norm1, .rstd1)
            Linear.forward(L[.norm1], rows: n, inDim: h, weight: w.q, outDim: qd, bias: w.qBias, out: L.q)
            Linear.forward(L[.norm1], rows: n, inDim: h, weight: w.k, outDim: kvd, bias: w.kBias, out: L.k)
            Linear.forward(L[.norm1], rows: n, inDim: h, weight: w.v, outDim: kvd, bias: w.vBias, out: L.v)
            rope.apply(L.q, positions: positions, rows: n, heads: c.heads)
            rope.apply(L.k, positions: positions, rows: n, heads: c.kvHeads)
            attend(l, L)
            Linear.forward(L.attn, rows: n, inDim: qd, weight: w.o, outDim: h, bias: w.oBias, out: a.x, accumulate: true)
            Llama.mlpForward(w, L, a, c, n)
        }

        func backward(layer l: Int, count n: Int, positions: UnsafePointer<Int32>, mask: AttentionMask,
                      activations a: Activations, scratch s: BufferArena, gradients g: Parameters) {
            let w = weights[l], gw = Weights(g, layer: l), L = a.layer(l)
            Llama.mlpBackward(w, gw, L, s, c, n)
            // x += o(attention(rope(q(norm1)), rope(k(norm1)), v(norm1)))
            Llama.attentionBackward(w, gw, L, s, c, n, mask: mask)
            // q and k were rotated after their projections (and biases): rotate the gradients back.
            rope.applyInverse(s[.dq], positions: positions, rows: n, heads: c.heads)
            rope.applyInverse(s[.dk], positions: positions, rows: n, heads: c.kvHeads)
            Llama.projectionsBackward(w, gw, L, dq: s[.dq], dk: s[.dk], s, c, n)
            RMSNorm.backward(dy: s[.dNorm], x: L[.xIn], weight: w.norm1, rstd: L[.rstd1], dx: s[.dx], dWeight: gw.norm1,
                             rows: n, dim: c.hiddenSize)
        }
    }

    // The halves of the layer, shared with Qwen3 (whose layer adds norms between q/k and RoPE).

    /// Keeps the stream (for backward) and normalises it: `keep` [n, h] <- x; `out` = rms(x).
    static func normIn(_ L: Activations.Layer, x: UnsafePointer<Float>, weight: P, keeps: Bool, _ c: ModelConfig, _ n: Int,
                       _ keep: BufferName, _ out: BufferName, _ rstd: BufferName) {
        if keeps { L[keep].update(from: x, count: n * c.hiddenSize) }
        RMSNorm.forward(x: x, weight: weight, y: L[out], rstd: L[rstd], rows: n, dim: c.hiddenSize, eps: c.normEps)
    }

    /// x += down(silu(gate(rms2(x))) * up(rms2(x))).
    static func mlpForward(_ w: Weights, _ L: Activations.Layer, _ a: Activations, _ c: ModelConfig, _ n: Int) {
        let h = c.hiddenSize, i = c.intermediateSize
        normIn(L, x: a.x, weight: w.norm2, keeps: a.keepsLayers, c, n, .xMid, .norm2, .rstd2)
        Linear.forward(L[.norm2], rows: n, inDim: h, weight: w.gate, outDim: i, bias: w.gateBias, out: L[.hidden])
        Linear.forward(L[.norm2], rows: n, inDim: h, weight: w.up, outDim: i, bias: w.upBias, out: L[.up])
        SwiGLU.forward(gate: L[.hidden], up: L[.up], out: L[.act], count: n * i)
        Linear.forward(L[.act], rows: n, inDim: i, weight: w.down, outDim: h, bias: w.downBias, out: a.x, accumulate: true)
    }

    /// Reverse of `mlpForward`: `s[.dx]` passes through the residual add, and the second norm's
    /// backward adds the MLP branch's share on top.
    static func mlpBackward(_ w: Weights, _ gw: Weights, _ L: Activations.Layer, _ s: BufferArena, _ c: ModelConfig, _ n: Int) {
        let h = c.hiddenSize, i = c.intermediateSize
        Linear.backward(dOut: s[.dx], x: L[.act], rows: n, inDim: i, weight: w.down, outDim: h,
                        dx: s[.dAct], dWeight: gw.down, dBias: gw.downBias)
        SwiGLU.backwardOverwriting(dOut: s[.dAct], gate: L[.hidden], up: L[.up], dGate: s[.dHidden], dUp: s[.dUp], count: n * i)
        Linear.backward(dOut: s[.dHidden], x: L[.norm2], rows: n, inDim: h, weight: w.gate, outDim: i,
                        dx: s[.dNorm], dWeight: gw.gate, dBias: gw.gateBias)
        Linear.backward(dOut: s[.dUp], x: L[.norm2], rows: n, inDim: h, weight: w.up, outDim: i,
                        dx: s[.dNorm], accumulateInput: true, dWeight: gw.up, dBias: gw.upBias)
        RMSNorm.backward(dy: s[.dNorm], x: L[.xMid], weight: w.norm2, rstd: L[.rstd2], dx: s[.dx], dWeight: gw.norm2,
                         rows: n, dim: h)
    }

    /// The output projection and attention backward: fills `s[.dq]`, `s[.dk]`, `s[.dv]` (at q and
    /// k after RoPE) from `s[.dx]`.
    static func attentionBackward(_ w: Weights, _ gw: Weights, _ L: Activations.Layer, _ s: BufferArena,
                                  _ c: ModelConfig, _ n: Int, mask: AttentionMask) {
        let h = c.hiddenSize, qd = c.heads * c.headDim, kvd = c.kvHeads * c.headDim
        Linear.backward(dOut: s[.dx], x: L.attn, rows: n, inDim: qd, weight: w.o, outDim: h,
                        dx: s[.dAttn], dWeight: gw.o, dBias: gw.oBias)
        s[.dq].update(repeating: 0, count: n * qd)
        s[.dk].update(repeating: 0, count: n * kvd)
        s[.dv].update(repeating: 0, count: n * kvd)
        Attention.backward(dOut: s[.dAttn], q: L.q, k: L.k, v: L.v, out: L.attn, lse: L.lse,
                           dq: s[.dq], dk: s[.dk], dv: s[.dv],
                           shape: Attention.Shape(tokens: n, qHeads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim),
                           mask: mask, scale: 1 / Float(c.headDim).squareRoot())
    }

    /// The q, k, v projections' backward from the gradients at their outputs into `s[.dNorm]`.
    static func projectionsBackward(_ w: Weights, _ gw: Weights, _ L: Activations.Layer, dq: P, dk: P,
                                    _ s: BufferArena, _ c: ModelConfig, _ n: Int) {
        let h = c.hiddenSize, qd = c.heads * c.headDim, kvd = c.kvHeads * c.headDim
        Linear.backward(dOut: dq, x: L[.norm1], rows: n, inDim: h, weight: w.q, outDim: qd,
                        dx: s[.dNorm], dWeight: gw.q, dBias: gw.qBias)
        Linear.backward(dOut: dk, x: L[.norm1], rows: n, inDim: h, weight: w.k, outDim: kvd,
                        dx: s[.dNorm], accumulateInput: true, dWeight: gw.k, dBias: gw.kBias)
        Linear.backward(dOut: s[.dv], x: L[.norm1], rows: n, inDim: h, weight: w.v, outDim: kvd,
                        dx: s[.dNorm], accumulateInput: true, dWeight: gw.v, dBias: gw.vBias)
    }
}

/// `blk.N.module.kind` split into its layer, module and kind (weight or bias).
enum GGUFLayerName {
    static func split(_ name: String) -> (layer: Int, module: String, kind: String)? {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "blk", let layer = Int(parts[1]), layer >= 0,
              parts[3] == "weight" || parts[3] == "bias" else { return nil }
        return (layer, String(parts[2]), String(parts[3]))
    }
}
