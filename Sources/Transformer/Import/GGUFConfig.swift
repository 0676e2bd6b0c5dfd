import Foundation
import ModelFiles

/// A Hugging Face config.json made from a GGUF file's metadata: `general.architecture` names the
/// family, its `{arch}.*` keys give the sizes (the keys llama.cpp's converter writes), the
/// tokenizer keys give the special ids, and the absence of `output.weight` means tied embeddings.
/// Each required key that is missing is named in the error.
enum GGUFConfig {
    static func hfObject(_ file: GGUFFile, path: String) throws -> [String: JSONValue] {
        func fail(_ key: String, _ message: String) -> ImportError {
            ImportError(.config, file: path, subject: "field '\(key)'", message)
        }
        guard let archValue = file["general.architecture"] else {
            throw fail("general.architecture", "expected one of llama, qwen2, gpt2 in the GGUF metadata, found none")
        }
        guard let arch = archValue.stringValue, let family = ModelFamily(rawValue: arch) else {
            throw ImportError(.unsupported, file: path, subject: "field 'general.architecture'",
                              "expected one of \(ModelFamily.allCases.map(\.rawValue).joined(separator: ", ")), found \(archValue.stringValue.map { "\"\($0)\"" } ?? archValue.typeName)")
        }
        func int(_ key: String) throws -> Int? {
            guard let value = file[key] else { return nil }
            guard let n = value.intValue, n >= 0 else { throw fail(key, "expected a non-negative integer, found \(value.typeName) \(value)") }
            // ModelConfig applies the real limits; this one only keeps the sums and products
            // made here (4 x embedding_length) from overflowing first.
            guard n <= 1 << 40 else { throw fail(key, "expected at most \(1 << 40), found \(n)") }
            return n
        }
        func need(_ suffix: String) throws -> Int {
            let key = "\(arch).\(suffix)"
            guard let n = try int(key) else { throw fail(key, "expected an integer in the GGUF metadata, found none") }
            return n
        }
        func double(_ key: String) throws -> Double? {
            guard let value = file[key] else { return nil }
            guard let d = value.doubleValue else { throw fail(key, "expected a number, found \(value.typeName) \(value)") }
            // An infinity or NaN cannot be written to config.json (JSON has no such numbers).
            guard d.isFinite else { throw fail(key, "expected a finite number, found \(d)") }
            return d
        }
        if let scaling = file["\(arch).rope.scaling.type"], scaling.stringValue != "none" {
            throw ImportError(.unsupported, file: path, subject: "field '\(arch).rope.scaling.type'",
                              "expected \"none\" (scaled RoPE is not implemented), found \(scaling.stringValue.map { "\"\($0)\"" } ?? "\(scaling)")")
        }
        let hidden = try need("embedding_length")
        let layers = try need("block_count")
        let heads = try need("attention.head_count")
        let feedForward = try int("\(arch).feed_forward_length")
        let context = try need("context_length")
        let tokens = file["tokenizer.ggml.tokens"]?.arrayValue?.count
        let embeddingRows = file.hasTensor("token_embd.weight") ? (try? file.tensor("token_embd.weight"))?.dims.last : nil
        guard let vocab = try int("\(arch).vocab_size") ?? tokens ?? embeddingRows else {
            throw fail("\(arch).vocab_size", "expected it, tokenizer.ggml.tokens or a token_embd.weight tensor, found none")
        }
        var object: [String: JSONValue] = [
            "model_type": .string(arch), "vocab_size": .int(Int64(vocab)), "torch_dtype": .string("float32"),
        ]
        for (hfKey, ggufKey) in [("bos_token_id", "tokenizer.ggml.bos_token_id"), ("eos_token_id", "tokenizer.ggml.eos_token_id"),
                                 ("pad_token_id", "tokenizer.ggml.padding_token_id")] {
            if let id = try int(ggufKey) { object[hfKey] = .int(Int64(id)) }
        }
        let tied = !file.hasTensor("output.weight")
        switch family {
        case .gpt2:
            let eps = try double("gpt2.attention.layer_norm_epsilon") ?? 1e-5
            object.merge([
                "architectures": .array([.string("GPT2LMHeadModel")]),
                "n_embd": .int(Int64(hidden)), "n_layer": .int(Int64(layers)), "n_head": .int(Int64(heads)),
                "n_positions": .int(Int64(context)), "n_ctx": .int(Int64(context)),
                "n_inner": .int(Int64(feedForward ?? 4 * hidden)), "layer_norm_epsilon": .double(eps),
                "activation_function": .string("gelu_new"),
                // llama.cpp's GPT-2 converter writes the tied head again as output.weight.
                "tie_word_embeddings": .bool(true),
            ]) { $1 }
        case .llama, .qwen2:
            guard let feedForward else {
                throw fail("\(arch).feed_forward_length", "expected an integer in the GGUF metadata, found none")
            }
            let kvHeads = try int("\(arch).attention.head_count_kv") ?? heads
            let headDim = try int("\(arch).attention.key_length") ?? (heads > 0 ? hidden / heads : 0)
            if let rotary = try int("\(arch).rope.dimension_count"), rotary != headDim {
                throw ImportError(.unsupported, file: path, subject: "field '\(arch).rope.dimension_count'",
                                  "expected the head size \(headDim) (partial rotary embeddings are not implemented), found \(rotary)")
            }
            let epsKey = "\(arch).attention.layer_norm_rms_epsilon"
            guard let eps = try double(epsKey) else { throw fail(epsKey, "expected a number in the GGUF metadata, found none") }
            object.merge([
                "architectures": .array([.string(family == .llama ? "LlamaForCausalLM" : "Qwen2ForCausalLM")]),
                "hidden_size": .int(Int64(hidden)), "intermediate_size": .int(Int64(feedForward)),
                "num_hidden_layers": .int(Int64(layers)), "num_attention_heads": .int(Int64(heads)),
                "num_key_value_heads": .int(Int64(kvHeads)), "head_dim": .int(Int64(headDim)),
                "max_position_embeddings": .int(Int64(context)), "rms_norm_eps": .double(eps),
                "rope_theta": .double(try double("\(arch).rope.freq_base") ?? 10_000),
                "hidden_act": .string("silu"), "tie_word_embeddings": .bool(tied),
            ]) { $1 }
            if family == .llama {
                object["attention_bias"] = .bool(file.hasTensor("blk.0.attn_q.bias"))
                object["mlp_bias"] = .bool(file.hasTensor("blk.0.ffn_up.bias"))
            } else {
                object["use_sliding_window"] = .bool(false)
            }
        }
        return object
    }
}
