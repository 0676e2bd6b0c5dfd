import Transformer
import Foundation
import ModelFiles

/// A config read off an ONNX graph when no `config.json` is given or beside the model: sizes from
/// the weights' shapes, head size from the attention `Reshape` constants (or rotary `inv_freq`),
/// epsilon from the norm's constant / LayerNormalization attribute, RoPE theta from `inv_freq`,
/// tying from whether the head tensor is (a copy of) the embedding. What the graph cannot tell
/// (max positions of a RoPE model, special token ids) is reported, not guessed silently.
public struct ConfigInference {
    public let config: ModelConfig
    /// The HF `config.json` written for the imported model.
    public let hf: HFConfig
    /// One line per field: where its value came from.
    public let notes: [String]

    /// A weight-like tensor under a name it is known by (its own, an Identity output, or module
    /// path + suffix of a consumer), with the HF-layout dims when the layout is known.
    private struct Known {
        var tensor: Int
        var dims: [Int]
        var storedLayout: WeightLayout?
    }

    public static func infer(_ model: ONNXModel, directory: URL?) throws -> ConfigInference {
        try infer(try GraphIndex(model), directory: directory)
    }

    static func infer(_ graph: GraphIndex, directory: URL?) throws -> ConfigInference {
        let file = graph.file
        func fail(_ field: String, _ message: String) -> ImportError {
            ImportError(.config, file: file, subject: "field '\(field)'",
                        "cannot infer it from the graph: \(message); give the import a config.json", setting: .modelConfig)
        }
        try UnsupportedGraphs.check(graph)

        var known: [String: Known] = [:]
        for (index, tensor) in graph.initializers.enumerated() {
            guard WeightReader.floatType(tensor) != nil, let (dims, count) = try? tensor.shape(), count >= 2 else { continue }
            let (uses, aliases) = graph.uses(of: tensor.name)
            var layout: WeightLayout? = nil
            var names = [tensor.name] + aliases
            for use in uses {
                let node = graph.nodes[use.node]
                guard let role = WeightRole.of(node, input: use.input) else { continue }
                if layout == nil, let l = role.layout { layout = use.transposes % 2 == 1 ? l.flipped : l }
                if let path = ModulePath.of(node)?.path { names.append(path + "." + role.suffix) }
            }
            for name in names.flatMap(ModulePath.unwrapped) where known[name] == nil {
                known[name] = Known(tensor: index, dims: dims, storedLayout: layout)
            }
        }
        /// HF dims of a matrix whose HF layout is `hf`.
        func dims(_ name: String, hf: WeightLayout = .outFirst) -> [Int]? {
            guard let k = known[name] else { return nil }
            if k.dims.count == 2, let stored = k.storedLayout, stored != hf { return k.dims.reversed() }
            return k.dims
        }

        var notes: [String] = []
        var json: [String: Any] = [:]
        let keys = Array(known.keys)
        let gpt2 = keys.contains { $0.hasPrefix("transformer.h.") || $0.hasPrefix("transformer.wte.") }
        let llamaLike = keys.contains { $0.hasPrefix("model.layers.") }
        guard gpt2 || llamaLike else {
            throw fail("model_type", "expected weights or module paths under transformer.h.N (GPT-2) or model.layers.N (Llama / Qwen2 / Qwen3), found neither")
        }
        let prefix = gpt2 ? "transformer.h." : "model.layers."
        let layerIndices = keys.compactMap { key -> Int? in
            guard key.hasPrefix(prefix) else { return nil }
            return Int(key.dropFirst(prefix.count).prefix { $0 != "." })
        }
        guard let lastLayer = layerIndices.max() else { throw fail("num_hidden_layers", "no layer index found") }
        // Each layer has weights: more layers than initializers is a corrupted name, not a model.
        guard lastLayer < graph.initializers.count else {
            throw fail("num_hidden_layers", "layer index \(lastLayer) exceeds the \(graph.initializers.count) initializers")
        }
        let layers = lastLayer + 1
        notes.append("num_hidden_layers = \(layers): highest layer index in names / module paths + 1")

        let embeddingName = gpt2 ? "transformer.wte.weight" : "model.embed_tokens.weight"
        guard let embedding = dims(embeddingName), embedding.count == 2 else {
            throw fail("vocab_size", "expected a 2-D embedding '\(embeddingName)' (by name or as the Gather of module \(embeddingName.dropLast(7))), found none")
        }
        let (vocab, hidden) = (embedding[0], embedding[1])
        try WeightReader(model: graph.model, directory: directory).checkStorage(graph.initializers[known[embeddingName]!.tensor])
        notes.append("vocab_size = \(vocab), hidden_size = \(hidden): embedding \(embeddingName) \(embedding)")

        // Head size: attention Reshape(x, [batch, seq, -1, head_dim]) constants, else inv_freq.
        var headDimVotes: [Int: Int] = [:]
        for node in graph.nodes where node.opType == "Reshape" && node.inputs.count >= 2 {
            guard let path = ModulePath.of(node)?.path, path.hasSuffix("attn") else { continue }
            var parts: [Int64?] = []
            if let whole = graph.smallInts(node.inputs[1]) {
                parts = whole.map { $0 }
            } else if let p = graph.producers[node.inputs[1]], graph.nodes[p].opType == "Concat" {
                // Each part is a one-element constant, or (unfolded graphs) Unsqueeze(scalar constant).
                parts = graph.nodes[p].inputs.map { name -> Int64? in
                    if let v = graph.smallInts(name) { return v.count == 1 ? v[0] : nil }
                    guard let q = graph.producers[name], graph.nodes[q].opType == "Unsqueeze",
                          let input = graph.nodes[q].inputs.first, let v = graph.smallInts(input), v.count == 1 else { return nil }
                    return v[0]
                }
            }
            if parts.count == 4, let last = parts[3], last > 0, parts.dropLast().contains(where: { $0 == -1 || $0 == 0 }) {
                headDimVotes[Int(last), default: 0] += 1
            }
        }
        let invFreq = findInvFreq(graph)
        var headDim: Int
        if let vote = headDimVotes.max(by: { $0.value < $1.value })?.key {
            headDim = vote
            notes.append("head_dim = \(headDim): attention Reshape target shapes (\(headDimVotes[vote]!) nodes)")
        } else if let inv = invFreq {
            headDim = 2 * inv.values.count
            notes.append("head_dim = \(headDim): 2 x length of rotary inv_freq '\(inv.name)'")
        } else {
            throw fail("num_attention_heads", "no attention Reshape with a constant head size and no rotary inv_freq constant")
        }

        guard headDim > 0, headDim <= hidden else {
            throw fail("head_dim", "expected a head size in 1...\(hidden), found \(headDim)")
        }
        func require(_ name: String, hf: WeightLayout = .outFirst) throws -> [Int] {
            guard let d = dims(name, hf: hf), d.count == 2 else {
                throw fail(name, "expected a 2-D weight '\(name)' (by name or module path), found none")
            }
            return d
        }

        if gpt2 {
            json["model_type"] = "gpt2"
            json["architectures"] = ["GPT2LMHeadModel"]
            let fc = try require("transformer.h.0.mlp.c_fc.weight", hf: .inFirst)
            guard hidden % headDim == 0 else { throw fail("n_head", "n_embd \(hidden) is not a multiple of the head size \(headDim)") }
            json["n_embd"] = hidden
            json["n_inner"] = fc[1]
            json["n_head"] = hidden / headDim
            json["n_layer"] = layers
            let wpe = try require("transformer.wpe.weight")
            json["n_positions"] = wpe[0]
            notes.append("n_inner = \(fc[1]): mlp.c_fc weight; n_positions = \(wpe[0]): wpe rows; n_head = \(hidden / headDim)")
            let eps = graph.nodes.first { $0.opType == "LayerNormalization" }.flatMap { try? $0.float("epsilon") }
            json["layer_norm_epsilon"] = Double(eps.map { rounded(Double($0)) } ?? 1e-5)
            notes.append("layer_norm_epsilon = \(json["layer_norm_epsilon"]!): \(eps == nil ? "LayerNormalization default" : "LayerNormalization epsilon attribute")")
            let usesErf = graph.nodes.contains { $0.opType == "Erf" }
            json["activation_function"] = usesErf ? "gelu" : "gelu_new"
            notes.append("activation_function = \(json["activation_function"]!): \(usesErf ? "Erf" : "Tanh approximation") in the graph")
        } else {
            let q = try require("model.layers.0.self_attn.q_proj.weight")
            let k = try require("model.layers.0.self_attn.k_proj.weight")
            let up = try require("model.layers.0.mlp.up_proj.weight")
            guard q[0] % headDim == 0, k[0] % headDim == 0 else {
                throw fail("num_attention_heads", "q_proj \(q) / k_proj \(k) outputs are not multiples of the head size \(headDim)")
            }
            let qkvBias = known["model.layers.0.self_attn.q_proj.bias"] != nil
            let oBias = known["model.layers.0.self_attn.o_proj.bias"] != nil
            // Qwen3's per-head q/k norms are its mark; Qwen2 has q/k/v biases without an o_proj bias.
            let qkNorm = known["model.layers.0.self_attn.q_norm.weight"] != nil
            let family = qkNorm ? "qwen3" : qkvBias && !oBias ? "qwen2" : "llama"
            json["model_type"] = family
            json["architectures"] = [["qwen3": "Qwen3ForCausalLM", "qwen2": "Qwen2ForCausalLM"][family] ?? "LlamaForCausalLM"]
            notes.append("model_type = \(family): \(qkNorm ? "per-head q/k norms, " : "")\(qkvBias ? "q/k/v biases" : "no q/k/v biases")\(oBias ? " and an o_proj bias" : "")")
            if family != "qwen2" && qkvBias { json["attention_bias"] = true }
            if known["model.layers.0.mlp.up_proj.bias"] != nil { json["mlp_bias"] = true }
            json["hidden_size"] = hidden
            json["intermediate_size"] = up[0]
            json["num_hidden_layers"] = layers
            json["num_attention_heads"] = q[0] / headDim
            json["num_key_value_heads"] = k[0] / headDim
            json["hidden_act"] = "silu"
            // Qwen3's config defaults head_dim to 128 whatever the sizes: always written for it.
            if q[0] != hidden || qkNorm { json["head_dim"] = headDim }
            notes.append("num_attention_heads = \(q[0] / headDim), num_key_value_heads = \(k[0] / headDim): q_proj \(q) and k_proj \(k) over head_dim \(headDim); intermediate_size = \(up[0]): up_proj")
            if let eps = normEpsilon(graph) {
                json["rms_norm_eps"] = eps
                notes.append("rms_norm_eps = \(eps): the constant added in the norm")
            } else {
                json["rms_norm_eps"] = 1e-6
                notes.append("rms_norm_eps = 1e-06: no constant found in the norm, the default used")
            }
            if let inv = invFreq, inv.values.count >= 2, inv.values.count * 2 == headDim {
                let theta = ropeTheta(inv.values, headDim: headDim, halfPrecision: inv.halfPrecision)
                json["rope_theta"] = theta
                notes.append("rope_theta = \(theta): from rotary inv_freq '\(inv.name)'")
            } else {
                json["rope_theta"] = 10_000.0
                notes.append("rope_theta = 10000: no rotary inv_freq constant found, the default used")
            }
            notes.append("max_position_embeddings: not recorded in a RoPE graph, the default 2048 used")
        }

        // Tied: the head is the embedding tensor itself, or a copy of it holding equal values.
        let headName = "lm_head.weight"
        var tied = true
        var tieNote = "no separate lm_head tensor"
        if let head = known[headName], let embed = known[embeddingName], head.tensor != embed.tensor {
            let e = graph.initializers[embed.tensor], h = graph.initializers[head.tensor]
            let reader = WeightReader(model: graph.model, directory: directory)
            var values = [Float](repeating: 0, count: vocab * hidden)
            let embedTransposed = embed.dims != [vocab, hidden]
            try values.withUnsafeMutableBufferPointer { try reader.read(e, into: $0.baseAddress!, transposed: embedTransposed) }
            let headTransposed = head.dims != [vocab, hidden]
            let shapeFits = head.dims == [vocab, hidden] || head.dims == [hidden, vocab]
            tied = try shapeFits && values.withUnsafeBufferPointer { try reader.equals(h, transposed: headTransposed, to: $0.baseAddress!) }
            tieNote = tied ? "lm_head tensor '\(h.name)' equals the embedding" : "lm_head tensor '\(h.name)' differs from the embedding"
        } else if known[headName] != nil {
            tieNote = "lm_head and the embedding are one tensor"
        }
        json["tie_word_embeddings"] = tied
        notes.append("tie_word_embeddings = \(tied): \(tieNote)")
        json["vocab_size"] = vocab

        let data = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
        let hf = try HFConfig(data: data, file: "\(file) (inferred config)")
        let config: ModelConfig
        do { config = try ModelConfig(hf: hf, file: "\(file) (inferred config)") } catch let error as ModelConfigError {
            throw ImportError(.config, file: file, subject: "field '\(error.field)'", "the inferred config is unusable: \(error.message); give the import a config.json", setting: .modelConfig)
        }
        return ConfigInference(config: config, hf: hf, notes: notes)
    }

    /// Six significant digits: float32 constants such as 9.99999997e-07 read back as 1e-06.
    static func rounded(_ x: Double) -> Double { Double(String(format: "%.6g", x)) ?? x }

    /// The rotary inverse frequencies: a float constant named *inv_freq*, or one consumed in a
    /// module path containing "rotary" (any op: Mul, MatMul, Expand of a [1, n, 1] copy, ...),
    /// holding a vector (all dims but one are 1) whose first entry is 1 (theta^0).
    static func findInvFreq(_ graph: GraphIndex) -> (name: String, values: [Float], halfPrecision: Bool)? {
        func vector(_ t: ONNXTensor) -> [Float]? {
            guard t.dims.filter({ $0 != 1 }).count == 1, let (_, count) = try? t.shape(), (2...4096).contains(count) else { return nil }
            return try? t.floats()
        }
        let half: (ONNXTensor) -> Bool = { $0.dataType == .float16 || $0.dataType == .bfloat16 }
        for t in graph.initializers where t.name.contains("inv_freq") {
            if let v = vector(t) { return (t.name, v, half(t)) }
        }
        for node in graph.nodes {
            guard ModulePath.of(node)?.path.contains("rotary") == true else { continue }
            for input in node.inputs {
                guard let t = graph.constant(input), WeightReader.floatType(t) != nil, let v = vector(t), v.first == 1 else { continue }
                return (input, v, half(t))
            }
        }
        return nil
    }

    /// RoPE base from inv_freq[i] = theta^(-2i/d): estimated, then the roundest value (1, 2, 3
    /// significant digits) that reproduces every stored entry within the storage precision. A
    /// model converted with `.half()` holds fp16-rounded inv_freq (even in an fp32 constant) whose
    /// small entries are subnormal, so fp16 precision is tried second, estimating from inv[1]
    /// (the raw estimate there is 1004200 for 1e6).
    static func ropeTheta(_ inv: [Float], headDim d: Int, halfPrecision: Bool) -> Double {
        let attempts: [(index: Int, relative: Double, absolute: Double)] =
            (halfPrecision ? [] : [(inv.count - 1, 1e-5, 1e-12)]) + [(1, 1e-3, 6e-8)]
        for (i, relative, absolute) in attempts {
            let estimate = pow(Double(inv[i]), -Double(d) / Double(2 * i))
            for digits in 1...3 {
                let candidate = Double(String(format: "%.\(digits - 1)e", estimate)) ?? estimate
                let fits = inv.indices.allSatisfy { k in
                    let predicted = pow(candidate, -2 * Double(k) / Double(d))
                    return abs(Double(inv[k]) - predicted) <= relative * predicted + absolute
                }
                if fits { return candidate }
            }
        }
        return rounded(pow(Double(inv[inv.count - 1]), -Double(d) / Double(2 * (inv.count - 1))))
    }

    /// The epsilon of the first RMSNorm: a float scalar constant added inside a *norm module.
    static func normEpsilon(_ graph: GraphIndex) -> Double? {
        for node in graph.nodes where node.opType == "Add" {
            guard let path = ModulePath.of(node)?.path, path.hasSuffix("norm") else { continue }
            for input in node.inputs {
                guard let t = graph.constant(input), t.dims.reduce(1, { $0 * Int($1) }) == 1,
                      let v = graph.smallFloats(input), let eps = v.first, eps > 0, eps < 0.01 else { continue }
                return rounded(Double(eps))
            }
        }
        return nil
    }
}
