import ModelFiles

/// llama.cpp's tensor names and layouts against the Hugging Face ones, per family (the rules
/// of llama.cpp's convert_hf_to_gguf.py, as the GGUF docs describe them):
/// - llama / qwen2: `token_embd`, `output_norm`, `output`, and per layer `blk.N.attn_norm`,
///   `attn_{q,k,v,output}`, `ffn_norm`, `ffn_{gate,up,down}`;
/// - llama only: the q and k projections (weights and biases) are stored with their rows
///   permuted so that each head's rotary pairs are adjacent (qwen2's converter does not permute:
///   checked on a known checkpoint by tools/make_gguf_model_fixtures.py);
/// - gpt2: `token_embd`, `position_embd`, `output_norm`, per layer `attn_norm`, `attn_qkv`,
///   `attn_output`, `ffn_norm`, `ffn_up`, `ffn_down`, with the Conv1D weights stored as
///   `[out, in]` (transposed from Hugging Face's `[in, out]`), and the tied head written again
///   as `output.weight`.
public enum GGUFNames {
    /// How a stored tensor becomes the Hugging Face parameter.
    public enum Layout: String, Codable, Sendable {
        case same
        /// Stored `[out, in]`, Hugging Face `[in, out]` (GPT-2 Conv1D).
        case transposed
        /// Rows in llama.cpp's rotary order with this many heads (q: heads, k: kv heads).
        case rotaryPermuted
    }

    static let llamaLayer: [String: String] = [
        "attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
        "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj", "ffn_norm": "post_attention_layernorm",
        "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj",
    ]
    static let gpt2Layer: [String: String] = [
        "attn_norm": "ln_1", "attn_qkv": "attn.c_attn", "attn_output": "attn.c_proj", "ffn_norm": "ln_2",
        "ffn_up": "mlp.c_fc", "ffn_down": "mlp.c_proj",
    ]

    /// The Hugging Face name of a GGUF tensor, and how its values are laid out; nil when the name
    /// is not one of the family's.
    public static func huggingFace(_ name: String, family: ModelFamily) -> (name: String, layout: Layout)? {
        let gpt2 = family == .gpt2
        switch name {
        case "token_embd.weight": return (gpt2 ? "transformer.wte.weight" : "model.embed_tokens.weight", .same)
        case "position_embd.weight": return gpt2 ? ("transformer.wpe.weight", .same) : nil
        case "output_norm.weight": return (gpt2 ? "transformer.ln_f.weight" : "model.norm.weight", .same)
        case "output_norm.bias": return gpt2 ? ("transformer.ln_f.bias", .same) : nil
        case "output.weight": return ("lm_head.weight", .same)
        default: break
        }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "blk", let layer = Int(parts[1]), layer >= 0,
              parts[3] == "weight" || parts[3] == "bias" else { return nil }
        let kind = String(parts[3])
        guard let module = (gpt2 ? gpt2Layer : llamaLayer)[String(parts[2])] else { return nil }
        let hf = "\(gpt2 ? "transformer.h" : "model.layers").\(layer).\(module).\(kind)"
        if gpt2, kind == "weight", ["attn_qkv", "attn_output", "ffn_up", "ffn_down"].contains(parts[2]) {
            return (hf, .transposed)
        }
        if family == .llama, parts[2] == "attn_q" || parts[2] == "attn_k" {
            return (hf, .rotaryPermuted)
        }
        return (hf, .same)
    }

    /// Heads whose rows a rotary-permuted tensor groups (q: attention heads, k: kv heads).
    static func permutationHeads(_ hfName: String, config: ModelConfig) -> Int {
        hfName.contains(".k_proj.") ? config.kvHeads : config.heads
    }

    /// Stored values (row-major `stored`) into the Hugging Face layout.
    static func toHuggingFace(_ values: [Float], stored: [Int], layout: Layout, heads: Int) -> [Float] {
        switch layout {
        case .same: return values
        case .transposed: return transpose(values, rows: stored[0], columns: stored.count > 1 ? stored[1] : 1)
        case .rotaryPermuted: return permuteRows(values, stored: stored, heads: heads, inverse: true)
        }
    }

    /// Hugging Face values back into the stored layout (for export).
    static func fromHuggingFace(_ values: [Float], hfShape: [Int], layout: Layout, heads: Int) -> [Float] {
        switch layout {
        case .same: return values
        case .transposed: return transpose(values, rows: hfShape[0], columns: hfShape.count > 1 ? hfShape[1] : 1)
        case .rotaryPermuted: return permuteRows(values, stored: hfShape, heads: heads, inverse: false)
        }
    }

    static func transpose(_ values: [Float], rows: Int, columns: Int) -> [Float] {
        var out = [Float](repeating: 0, count: values.count)
        for r in 0..<rows { for c in 0..<columns { out[c * rows + r] = values[r * columns + c] } }
        return out
    }

    /// llama.cpp's rotary permutation over the rows of `[heads * headDim, columns]` (or a bias,
    /// columns 1): within each head, Hugging Face row `j * headDim/2 + i` is stored at row
    /// `2i + j` (i < headDim/2, j in 0, 1). `inverse` maps stored rows back to Hugging Face.
    static func permuteRows(_ values: [Float], stored: [Int], heads: Int, inverse: Bool) -> [Float] {
        let rows = stored[0], columns = stored.count > 1 ? stored[1] : 1
        let half = rows / heads / 2
        var out = [Float](repeating: 0, count: values.count)
        for h in 0..<heads {
            for i in 0..<half {
                for j in 0..<2 {
                    let hfRow = h * 2 * half + j * half + i
                    let ggufRow = h * 2 * half + 2 * i + j
                    let (from, to) = inverse ? (ggufRow, hfRow) : (hfRow, ggufRow)
                    for c in 0..<columns { out[to * columns + c] = values[from * columns + c] }
                }
            }
        }
        return out
    }
}
