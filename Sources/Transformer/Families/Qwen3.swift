import ModelFiles
import Tensors

/// Qwen3 (`model_type` qwen3): the Llama layer with a per-head RMSNorm on queries and keys,
/// applied to each head's vector after its projection and before RoPE, and a head size set on
/// its own (q_proj `[heads x head_dim, h]` need not be square):
///   q = rope(q_norm(q_proj(rms1(x)) per head)),  k = rope(k_norm(k_proj(rms1(x)) per head))
///   x += o_proj(attention(q, k, v_proj(rms1(x))));  the MLP half is Llama's.
/// Biases on q, k, v and o only with `attention_bias`; the MLP has none.
public enum Qwen3: Architecture {
    public typealias P = UnsafeMutablePointer<Float>

    // MARK: Configuration

    public static var sizeFields: SizeFieldNames { SizeFieldNames() }

    public static func readSettings(_ hf: HFConfig, into c: inout ModelConfig, file: String) throws {
        guard c.intermediateSize > 0 else {
            throw ModelConfigError(file: file, field: "intermediate_size", "expected a value, found none")
        }
        // transformers' Qwen3Config defaults (a config.json written by it always has them).
        if hf.headDim == nil { c.headDim = 128 }
        if hf.maxPositionEmbeddings == nil { c.maxPositions = 32_768 }
        c.normEps = try ModelConfig.positiveFloat(hf.normEpsilon ?? 1e-6, field: "rms_norm_eps", file: file)
        c.ropeTheta = try ModelConfig.positiveFloat(hf.ropeTheta ?? 10_000, field: "rope_theta", file: file)
        c.tiedEmbeddings = hf.tieWordEmbeddings ?? false
        let attentionBias = hf.attentionBias ?? false
        (c.qkvBias, c.outputBias, c.mlpBias) = (attentionBias, attentionBias, false)
        try Llama.requireSilu(hf, file: file)
        c.activation = .silu
        try ModelConfig.refuseRopeScaling(hf, file: file)
        try Llama.refuseSlidingWindow(hf, file: file)
    }

    public static func validate(_ c: ModelConfig, file: String) throws { try Llama.validate(c, file: file) }

    public static func ggufSettings(_ m: GGUFMetadata, sizes: GGUFSizes) throws -> [String: JSONValue] {
        var object = try Llama.ggufSettings(m, sizes: sizes)
        object["attention_bias"] = .bool(m.hasTensor("blk.0.attn_q.bias"))
        return object
    }

    // MARK: Parameters and names

    public static func parameterSpecs(_ c: ModelConfig) -> [ParameterSpec] {
        var specs = [ParameterSpec("model.embed_tokens.weight", [c.vocabSize, c.hiddenSize])]
        for l in 0..<c.layers {
            let p = "model.layers.\(l).self_attn."
            specs += Llama.layerSpecs(c, layer: l, afterAttention: [ParameterSpec(p + "q_norm.weight", [c.headDim]),
                                                                     ParameterSpec(p + "k_norm.weight", [c.headDim])])
        }
        specs.append(ParameterSpec("model.norm.weight", [c.hiddenSize]))
        if !c.tiedEmbeddings { specs.append(ParameterSpec("lm_head.weight", [c.vocabSize, c.hiddenSize])) }
        return specs
    }

    public static var embeddingName: String { Llama.embeddingName }
    public static var positionEmbeddingName: String? { nil }
    public static var finalNormName: String { Llama.finalNormName }
    public static var finalNormBiasName: String? { nil }
    public static var normHasMean: Bool { false }
    public static func isIgnoredCheckpointName(_ name: String) -> Bool { Llama.isIgnoredCheckpointName(name) }
    public static func storesInputFirst(_ parameter: String) -> Bool { false }

    /// llama.cpp's Llama names plus `attn_q_norm` / `attn_k_norm`; like qwen2, no rotary
    /// permutation of q and k.
    public static func huggingFaceName(gguf name: String, family: ModelFamily) -> (name: String, layout: StoredLayout)? {
        var modules = Llama.ggufLayerModules
        modules["attn_q_norm"] = "self_attn.q_norm"
        modules["attn_k_norm"] = "self_attn.k_norm"
        return Llama.huggingFaceName(gguf: name, family: family, modules: modules)
    }

    // MARK: Buffers

    /// `[n, qd]`, `[n, kvd]` q and k projections before their norms; `[n, heads]`, `[n, kvHeads]`
    /// the norms' rstd; and the gradients at the projections' outputs.
    static let qRaw = BufferName("qRaw"), kRaw = BufferName("kRaw"), qRstd = BufferName("qRstd"), kRstd = BufferName("kRstd")
    static let dqRaw = BufferName("dqRaw"), dkRaw = BufferName("dkRaw")

    public static func layerBuffers(_ c: ModelConfig, tokens n: Int, keepsLayers: Bool) -> [BufferPlan.Buffer] {
        Llama.layerBuffers(c, tokens: n, keepsLayers: keepsLayers) + [
            .init(qRaw, mul(n, c.heads * c.headDim)), .init(kRaw, mul(n, c.kvHeads * c.headDim)),
            .init(qRstd, mul(n, c.heads)), .init(kRstd, mul(n, c.kvHeads)),
        ]
    }

    public static func gradientBuffers(_ c: ModelConfig, tokens n: Int) -> [BufferPlan.Buffer] {
        Llama.gradientBuffers(c, tokens: n) + [.init(dqRaw, mul(n, c.heads * c.headDim)), .init(dkRaw, mul(n, c.kvHeads * c.headDim))]
    }

    // MARK: Weights

    struct Weights {
        var llama: Llama.Weights, qNorm: P, kNorm: P
        init(_ p: Parameters, layer l: Int) {
            llama = Llama.Weights(p, layer: l)
            qNorm = p["model.layers.\(l).self_attn.q_norm.weight"]
            kNorm = p["model.layers.\(l).self_attn.k_norm.weight"]
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
            let w = weights[l], lw = w.llama, L = a.layer(l)
            let h = c.hiddenSize, hd = c.headDim, qd = c.heads * hd, kvd = c.kvHeads * hd
            Llama.normIn(L, x: a.x, weight: lw.norm1, keeps: a.keepsLayers, c, n, .xIn, .norm1, .rstd1)
            Linear.forward(L[.norm1], rows: n, inDim: h, weight: lw.q, outDim: qd, bias: lw.qBias, out: L[qRaw])
            Linear.forward(L[.norm1], rows: n, inDim: h, weight: lw.k, outDim: kvd, bias: lw.kBias, out: L[kRaw])
            Linear.forward(L[.norm1], rows: n, inDim: h, weight: lw.v, outDim: kvd, bias: lw.vBias, out: L.v)
            // Each head's vector is one row of the norm: [n * heads, head_dim].
            RMSNorm.forward(x: L[qRaw], weight: w.qNorm, y: L.q, rstd: L[qRstd], rows: n * c.heads, dim: hd, eps: c.normEps)
            RMSNorm.forward(x: L[kRaw], weight: w.kNorm, y: L.k, rstd: L[kRstd], rows: n * c.kvHeads, dim: hd, eps: c.normEps)
            rope.apply(L.q, positions: positions, rows: n, heads: c.heads)
            rope.apply(L.k, positions: positions, rows: n, heads: c.kvHeads)
            attend(l, L)
            Linear.forward(L.attn, rows: n, inDim: qd, weight: lw.o, outDim: h, bias: lw.oBias, out: a.x, accumulate: true)
            Llama.mlpForward(lw, L, a, c, n)
        }

        func backward(layer l: Int, count n: Int, positions: UnsafePointer<Int32>, mask: AttentionMask,
                      activations a: Activations, scratch s: BufferArena, gradients g: Parameters) {
            let w = weights[l], gw = Weights(g, layer: l), L = a.layer(l)
            let hd = c.headDim
            Llama.mlpBackward(w.llama, gw.llama, L, s, c, n)
            Llama.attentionBackward(w.llama, gw.llama, L, s, c, n, mask: mask)
            rope.applyInverse(s[.dq], positions: positions, rows: n, heads: c.heads)
            rope.applyInverse(s[.dk], positions: positions, rows: n, heads: c.kvHeads)
            // Through the per-head norms (their backward adds into dx: start from zero).
            s[dqRaw].update(repeating: 0, count: n * c.heads * hd)
            s[dkRaw].update(repeating: 0, count: n * c.kvHeads * hd)
            RMSNorm.backward(dy: s[.dq], x: L[qRaw], weight: w.qNorm, rstd: L[qRstd], dx: s[dqRaw], dWeight: gw.qNorm,
                             rows: n * c.heads, dim: hd)
            RMSNorm.backward(dy: s[.dk], x: L[kRaw], weight: w.kNorm, rstd: L[kRstd], dx: s[dkRaw], dWeight: gw.kNorm,
                             rows: n * c.kvHeads, dim: hd)
            Llama.projectionsBackward(w.llama, gw.llama, L, dq: s[dqRaw], dk: s[dkRaw], s, c, n)
            RMSNorm.backward(dy: s[.dNorm], x: L[.xIn], weight: w.llama.norm1, rstd: L[.rstd1], dx: s[.dx],
                             dWeight: gw.llama.norm1, rows: n, dim: c.hiddenSize)
        }
    }
}
