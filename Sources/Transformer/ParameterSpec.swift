/// The parameters of a model: canonical Hugging Face names and shapes, in a fixed order.
public struct ParameterSpec: Equatable, Sendable, Codable {
    public var name: String
    public var shape: [Int]
    public var count: Int { shape.reduce(1, *) }

    public init(_ name: String, _ shape: [Int]) {
        self.name = name
        self.shape = shape
    }
}

extension ModelConfig {
    /// Every trainable parameter of the model, with the shape Hugging Face stores it in
    /// (Linear `[out, in]`; GPT-2 Conv1D `[in, out]`). A tied output head has no entry of its
    /// own: it is `model.embed_tokens.weight` / `transformer.wte.weight`.
    public var parameterSpecs: [ParameterSpec] {
        switch family {
        case .llama, .qwen2: return llamaSpecs
        case .gpt2: return gpt2Specs
        }
    }

    /// Names that appear in checkpoints but are not parameters (buffers the runtime recomputes),
    /// dropped on load.
    public func isIgnoredCheckpointName(_ name: String) -> Bool {
        switch family {
        case .llama, .qwen2: return name.hasSuffix(".rotary_emb.inv_freq")
        case .gpt2: return name.hasSuffix(".attn.bias") || name.hasSuffix(".attn.masked_bias")
        }
    }

    /// The name a tied output head would have; loading accepts it when it equals the embedding.
    public var tiedHeadName: String { "lm_head.weight" }

    public var embeddingName: String { family == .gpt2 ? "transformer.wte.weight" : "model.embed_tokens.weight" }

    private var llamaSpecs: [ParameterSpec] {
        let h = hiddenSize, q = heads * headDim, kv = kvHeads * headDim, i = intermediateSize
        var specs = [ParameterSpec("model.embed_tokens.weight", [vocabSize, h])]
        for l in 0..<layers {
            let p = "model.layers.\(l)."
            specs.append(ParameterSpec(p + "input_layernorm.weight", [h]))
            for (name, out) in [("q_proj", q), ("k_proj", kv), ("v_proj", kv)] {
                specs.append(ParameterSpec(p + "self_attn.\(name).weight", [out, h]))
                if qkvBias { specs.append(ParameterSpec(p + "self_attn.\(name).bias", [out])) }
            }
            specs.append(ParameterSpec(p + "self_attn.o_proj.weight", [h, q]))
            if outputBias { specs.append(ParameterSpec(p + "self_attn.o_proj.bias", [h])) }
            specs.append(ParameterSpec(p + "post_attention_layernorm.weight", [h]))
            for (name, shape) in [("gate_proj", [i, h]), ("up_proj", [i, h]), ("down_proj", [h, i])] {
                specs.append(ParameterSpec(p + "mlp.\(name).weight", shape))
                if mlpBias { specs.append(ParameterSpec(p + "mlp.\(name).bias", [shape[0]])) }
            }
        }
        specs.append(ParameterSpec("model.norm.weight", [h]))
        if !tiedEmbeddings { specs.append(ParameterSpec("lm_head.weight", [vocabSize, h])) }
        return specs
    }

    private var gpt2Specs: [ParameterSpec] {
        let h = hiddenSize, i = intermediateSize
        var specs = [ParameterSpec("transformer.wte.weight", [vocabSize, h]),
                     ParameterSpec("transformer.wpe.weight", [maxPositions, h])]
        for l in 0..<layers {
            let p = "transformer.h.\(l)."
            specs += [
                ParameterSpec(p + "ln_1.weight", [h]), ParameterSpec(p + "ln_1.bias", [h]),
                ParameterSpec(p + "attn.c_attn.weight", [h, 3 * h]), ParameterSpec(p + "attn.c_attn.bias", [3 * h]),
                ParameterSpec(p + "attn.c_proj.weight", [h, h]), ParameterSpec(p + "attn.c_proj.bias", [h]),
                ParameterSpec(p + "ln_2.weight", [h]), ParameterSpec(p + "ln_2.bias", [h]),
                ParameterSpec(p + "mlp.c_fc.weight", [h, i]), ParameterSpec(p + "mlp.c_fc.bias", [i]),
                ParameterSpec(p + "mlp.c_proj.weight", [i, h]), ParameterSpec(p + "mlp.c_proj.bias", [h]),
            ]
        }
        specs += [ParameterSpec("transformer.ln_f.weight", [h]), ParameterSpec("transformer.ln_f.bias", [h])]
        if !tiedEmbeddings { specs.append(ParameterSpec("lm_head.weight", [vocabSize, h])) }
        return specs
    }
}
