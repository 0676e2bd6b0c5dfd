import ModelFiles
import Tensors

/// GPT-2 (`model_type` gpt2): LayerNorm with bias, learned positions, fused qkv, GELU:
///   q, k, v = split(c_attn(ln_1(x)))        (Conv1D [h, 3h] + bias, columns q | k | v)
///   x += attn.c_proj(attention(q, k, v))     (Conv1D [h, h] + bias)
///   x += mlp.c_proj(gelu(c_fc(ln_2(x))))
/// Conv1D weights are stored `[in, out]` (Hugging Face's layout, kept as is).
public enum GPT2: Architecture {
    public typealias P = UnsafeMutablePointer<Float>

    // MARK: Configuration

    public static var sizeFields: SizeFieldNames {
        var names = SizeFieldNames()
        (names.hidden, names.layers, names.heads, names.intermediate, names.positions) = ("n_embd", "n_layer", "n_head", "n_inner", "n_positions")
        return names
    }

    public static func readSettings(_ hf: HFConfig, into c: inout ModelConfig, file: String) throws {
        if hf.intermediateSize == nil { c.intermediateSize = 4 * c.hiddenSize }
        guard hf.maxPositionEmbeddings != nil else {
            throw ModelConfigError(file: file, field: "n_positions", "expected a value, found none")
        }
        c.normEps = try ModelConfig.positiveFloat(hf.normEpsilon ?? 1e-5, field: "layer_norm_epsilon", file: file)
        c.ropeTheta = 0
        c.tiedEmbeddings = hf.tieWordEmbeddings ?? true
        (c.qkvBias, c.outputBias, c.mlpBias) = (true, true, true)
        switch hf.hiddenAct ?? "gelu_new" {
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": c.activation = .geluTanh
        case "gelu": c.activation = .geluErf
        case let other:
            throw ModelConfigError(file: file, field: "activation_function", "expected gelu_new or gelu, found \"\(other)\"")
        }
    }

    public static func validate(_ c: ModelConfig, file: String) throws {
        if c.heads * c.headDim != c.hiddenSize {
            throw ModelConfigError(file: file, field: "n_head", "expected n_embd (\(c.hiddenSize)) divisible by n_head, found \(c.heads)")
        }
    }

    public static func ggufSettings(_ m: GGUFMetadata, sizes s: GGUFSizes) throws -> [String: JSONValue] {
        let eps = try m.double("gpt2.attention.layer_norm_epsilon") ?? 1e-5
        return [
            "architectures": .array([.string("GPT2LMHeadModel")]),
            "n_embd": .int(Int64(s.hidden)), "n_layer": .int(Int64(s.layers)), "n_head": .int(Int64(s.heads)),
            "n_positions": .int(Int64(s.context)), "n_ctx": .int(Int64(s.context)),
            "n_inner": .int(Int64(s.feedForward ?? 4 * s.hidden)), "layer_norm_epsilon": .double(eps),
            "activation_function": .string("gelu_new"),
            // llama.cpp's GPT-2 converter writes the tied head again as output.weight.
            "tie_word_embeddings": .bool(true),
        ]
    }

    // MARK: Parameters and names

    public static func parameterSpecs(_ c: ModelConfig) -> [ParameterSpec] {
        let h = c.hiddenSize, i = c.intermediateSize
        var specs = [ParameterSpec("transformer.wte.weight", [c.vocabSize, h]),
                     ParameterSpec("transformer.wpe.weight", [c.maxPositions, h])]
        for l in 0..<c.layers {
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
        if !c.tiedEmbeddings { specs.append(ParameterSpec("lm_head.weight", [c.vocabSize, h])) }
        return specs
    }

    public static var embeddingName: String { "transformer.wte.weight" }
    public static var positionEmbeddingName: String? { "transformer.wpe.weight" }
    public static var finalNormName: String { "transformer.ln_f.weight" }
    public static var finalNormBiasName: String? { "transformer.ln_f.bias" }
    public static var normHasMean: Bool { true }
    public static func isIgnoredCheckpointName(_ name: String) -> Bool {
        name.hasSuffix(".attn.bias") || name.hasSuffix(".attn.masked_bias")
    }

    static let conv1DSuffixes = [".attn.c_attn.weight", ".attn.c_proj.weight", ".mlp.c_fc.weight", ".mlp.c_proj.weight"]

    public static func storesInputFirst(_ parameter: String) -> Bool {
        parameter.hasPrefix("transformer.h.") && conv1DSuffixes.contains(where: parameter.hasSuffix)
    }

    /// llama.cpp's names: `token_embd`, `position_embd`, `output_norm`, per layer `attn_norm`,
    /// `attn_qkv`, `attn_output`, `ffn_norm`, `ffn_up`, `ffn_down`, with the Conv1D weights stored
    /// `[out, in]` (transposed from Hugging Face's `[in, out]`), and the tied head written again
    /// as `output.weight`.
    static let ggufLayerModules: [String: String] = [
        "attn_norm": "ln_1", "attn_qkv": "attn.c_attn", "attn_output": "attn.c_proj", "ffn_norm": "ln_2",
        "ffn_up": "mlp.c_fc", "ffn_down": "mlp.c_proj",
    ]

    public static func huggingFaceName(gguf name: String, family: ModelFamily) -> (name: String, layout: StoredLayout)? {
        switch name {
        case "token_embd.weight": return ("transformer.wte.weight", .same)
        case "position_embd.weight": return ("transformer.wpe.weight", .same)
        case "output_norm.weight": return ("transformer.ln_f.weight", .same)
        case "output_norm.bias": return ("transformer.ln_f.bias", .same)
        case "output.weight": return ("lm_head.weight", .same)
        default: break
        }
        guard let (layer, module, kind) = GGUFLayerName.split(name), let hf = ggufLayerModules[module] else { return nil }
        let transposed = kind == "weight" && ["attn_qkv", "attn_output", "ffn_up", "ffn_down"].contains(module)
        return ("transformer.h.\(layer).\(hf).\(kind)", transposed ? .transposed : .same)
    }

    // MARK: Buffers

    /// `[n, 3h]` the fused c_attn output (q | k | v columns), and its gradient.
    static let qkv = BufferName("qkv"), dQKV = BufferName("dQKV")

    public static func layerBuffers(_ c: ModelConfig, tokens n: Int, keepsLayers: Bool) -> [BufferPlan.Buffer] {
        let h = c.hiddenSize, i = c.intermediateSize
        return [
            .init(.xIn, keepsLayers ? mul(n, h) : 0), .init(.norm1, mul(n, h)), .init(.mean1, n), .init(.rstd1, n),
            .init(qkv, mul(n, 3 * h)), .init(.q, mul(n, h)), .init(.k, mul(n, h)), .init(.v, mul(n, h)),
            .init(.attn, mul(n, h)), .init(.lse, mul(n, c.heads)),
            .init(.xMid, keepsLayers ? mul(n, h) : 0), .init(.norm2, mul(n, h)), .init(.mean2, n), .init(.rstd2, n),
            .init(.hidden, mul(n, i)), .init(.act, mul(n, i)),
        ]
    }

    public static func gradientBuffers(_ c: ModelConfig, tokens n: Int) -> [BufferPlan.Buffer] {
        let h = c.hiddenSize, i = c.intermediateSize
        return [
            .init(.dx, mul(n, h)), .init(.dNorm, mul(n, h)), .init(.dAttn, mul(n, h)),
            .init(.dq, mul(n, h)), .init(.dk, mul(n, h)), .init(.dv, mul(n, h)), .init(dQKV, mul(n, 3 * h)),
            .init(.dAct, mul(n, i)), .init(.dHidden, mul(n, i)),
        ]
    }

    // MARK: Weights

    struct Weights {
        var ln1: P, ln1Bias: P, qkv: P, qkvBias: P, o: P, oBias: P
        var ln2: P, ln2Bias: P, fc: P, fcBias: P, proj: P, projBias: P

        init(_ p: Parameters, layer l: Int) {
            let s = "transformer.h.\(l)."
            (ln1, ln1Bias) = (p[s + "ln_1.weight"], p[s + "ln_1.bias"])
            (qkv, qkvBias) = (p[s + "attn.c_attn.weight"], p[s + "attn.c_attn.bias"])
            (o, oBias) = (p[s + "attn.c_proj.weight"], p[s + "attn.c_proj.bias"])
            (ln2, ln2Bias) = (p[s + "ln_2.weight"], p[s + "ln_2.bias"])
            (fc, fcBias) = (p[s + "mlp.c_fc.weight"], p[s + "mlp.c_fc.bias"])
            (proj, projBias) = (p[s + "mlp.c_proj.weight"], p[s + "mlp.c_proj.bias"])
        }
    }

    public static func makeLayers(_ parameters: Parameters, config: ModelConfig) -> any DecoderLayers {
        Layers(parameters, config: config)
    }

    // MARK: Forward and backward

    final class Layers: DecoderLayers {
        let c: ModelConfig, weights: [Weights]

        init(_ p: Parameters, config: ModelConfig) {
            c = config
            weights = (0..<config.layers).map { Weights(p, layer: $0) }
        }

        func forward(layer l: Int, count n: Int, positions: UnsafePointer<Int32>, activations a: Activations,
                     attend: (Int, Activations.Layer) -> Void) {
            let w = weights[l], L = a.layer(l)
            let h = c.hiddenSize, i = c.intermediateSize
            if a.keepsLayers { L[.xIn].update(from: a.x, count: n * h) }
            LayerNorm.forward(x: a.x, weight: w.ln1, bias: w.ln1Bias, y: L[.norm1], mean: L[.mean1], rstd: L[.rstd1],
                              rows: n, dim: h, eps: c.normEps)
            Linear.forward(L[.norm1], rows: n, inDim: h, weight: w.qkv, outDim: 3 * h, bias: w.qkvBias, out: L[qkv], outIn: false)
            // The attention kernels take q, k, v as separate `[n, h]` arrays.
            let fused = L[qkv], q = L.q, k = L.k, v = L.v
            for r in 0..<n {
                let row = fused + r * 3 * h
                (q + r * h).update(from: row, count: h)
                (k + r * h).update(from: row + h, count: h)
                (v + r * h).update(from: row + 2 * h, count: h)
            }
            attend(l, L)
            Linear.forward(L.attn, rows: n, inDim: h, weight: w.o, outDim: h, bias: w.oBias, out: a.x, accumulate: true, outIn: false)

            if a.keepsLayers { L[.xMid].update(from: a.x, count: n * h) }
            LayerNorm.forward(x: a.x, weight: w.ln2, bias: w.ln2Bias, y: L[.norm2], mean: L[.mean2], rstd: L[.rstd2],
                              rows: n, dim: h, eps: c.normEps)
            Linear.forward(L[.norm2], rows: n, inDim: h, weight: w.fc, outDim: i, bias: w.fcBias, out: L[.hidden], outIn: false)
            c.activation.forward(L[.hidden], L[.act], count: n * i)
            Linear.forward(L[.act], rows: n, inDim: i, weight: w.proj, outDim: h, bias: w.projBias, out: a.x, accumulate: true, outIn: false)
        }

        /// The fused c_attn gradient is assembled as q | k | v columns so that its weight and
        /// input gradients are one GEMM each.
        func backward(layer l: Int, count n: Int, positions: UnsafePointer<Int32>, mask: AttentionMask,
                      activations a: Activations, scratch s: BufferArena, gradients g: Parameters) {
            let w = weights[l], gw = Weights(g, layer: l), L = a.layer(l)
            let h = c.hiddenSize, i = c.intermediateSize

            // x += mlp.c_proj(gelu(c_fc(ln_2(x))))
            Linear.backward(dOut: s[.dx], x: L[.act], rows: n, inDim: i, weight: w.proj, outDim: h,
                            dx: s[.dAct], dWeight: gw.proj, dBias: gw.projBias, outIn: false)
            s[.dHidden].update(repeating: 0, count: n * i)
            c.activation.backward(dy: s[.dAct], x: L[.hidden], dx: s[.dHidden], count: n * i)
            Linear.backward(dOut: s[.dHidden], x: L[.norm2], rows: n, inDim: h, weight: w.fc, outDim: i,
                            dx: s[.dNorm], dWeight: gw.fc, dBias: gw.fcBias, outIn: false)
            LayerNorm.backward(dy: s[.dNorm], x: L[.xMid], weight: w.ln2, mean: L[.mean2], rstd: L[.rstd2],
                               dx: s[.dx], dWeight: gw.ln2, dBias: gw.ln2Bias, rows: n, dim: h)

            // x += attn.c_proj(attention(split(c_attn(ln_1(x)))))
            Linear.backward(dOut: s[.dx], x: L.attn, rows: n, inDim: h, weight: w.o, outDim: h,
                            dx: s[.dAttn], dWeight: gw.o, dBias: gw.oBias, outIn: false)
            let dq = s[.dq], dk = s[.dk], dv = s[.dv], dFused = s[dQKV]
            dq.update(repeating: 0, count: n * h)
            dk.update(repeating: 0, count: n * h)
            dv.update(repeating: 0, count: n * h)
            Attention.backward(dOut: s[.dAttn], q: L.q, k: L.k, v: L.v, out: L.attn, lse: L.lse, dq: dq, dk: dk, dv: dv,
                               shape: Attention.Shape(tokens: n, qHeads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim),
                               mask: mask, scale: 1 / Float(c.headDim).squareRoot())
            Compute.parallelFor(n, minChunk: 64) { rows in
                for r in rows {
                    let row = dFused + r * 3 * h
                    row.update(from: dq + r * h, count: h)
                    (row + h).update(from: dk + r * h, count: h)
                    (row + 2 * h).update(from: dv + r * h, count: h)
                }
            }
            Linear.backward(dOut: dFused, x: L[.norm1], rows: n, inDim: h, weight: w.qkv, outDim: 3 * h,
                            dx: s[.dNorm], dWeight: gw.qkv, dBias: gw.qkvBias, outIn: false)
            LayerNorm.backward(dy: s[.dNorm], x: L[.xIn], weight: w.ln1, mean: L[.mean1], rstd: L[.rstd1],
                               dx: s[.dx], dWeight: gw.ln1, dBias: gw.ln1Bias, rows: n, dim: h)
        }
    }
}
