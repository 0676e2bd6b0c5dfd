import Foundation
import ModelFiles
import Tensors

/// The model families the runtime implements, one code path each.
public enum ModelFamily: String, Codable, Sendable, CaseIterable {
    /// Llama / SmolLM2: RMSNorm, RoPE, grouped-query attention, SwiGLU MLP, no biases.
    case llama
    /// Qwen2: as Llama, plus biases on the q, k and v projections.
    case qwen2
    /// GPT-2: LayerNorm, learned positions, fused qkv (Conv1D `[in, out]` weights), GELU.
    case gpt2
}

/// Everything the runtime needs to know about a model, resolved and checked from a Hugging Face
/// `config.json`. A setting the runtime cannot honour is refused with its field named, never
/// approximated.
public struct ModelConfig: Codable, Equatable, Sendable {
    public var family: ModelFamily
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layers: Int
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int
    public var maxPositions: Int
    public var normEps: Float
    /// RoPE base (Llama, Qwen2); unused by GPT-2.
    public var ropeTheta: Float
    public var tiedEmbeddings: Bool
    /// Biases on q, k, v (Qwen2 always; Llama when `attention_bias`; GPT-2 always).
    public var qkvBias: Bool
    /// Bias on the attention output projection (Llama `attention_bias`; GPT-2).
    public var outputBias: Bool
    /// Biases in the MLP (Llama `mlp_bias`; GPT-2).
    public var mlpBias: Bool
    public var activation: Activation
    public var bosTokenId: Int?
    public var eosTokenIds: [Int]

    public init(hf: HFConfig, file: String = "config.json") throws {
        func need<T>(_ value: T?, _ field: String) throws -> T {
            guard let value else { throw ModelConfigError(file: file, field: field, "expected a value, found none") }
            return value
        }
        guard let type = hf.modelType else {
            throw ModelConfigError(file: file, field: "model_type", "expected one of llama, qwen2, gpt2, found none")
        }
        guard let family = ModelFamily(rawValue: type) else {
            throw ModelConfigError(file: file, field: "model_type",
                                   "expected one of \(ModelFamily.allCases.map(\.rawValue).joined(separator: ", ")), found \"\(type)\"")
        }
        self.family = family
        let gpt2 = family == .gpt2
        // Each size is checked against its limit as it is read, before anything (a derived size,
        // the parameter count, an allocation) is computed from it.
        func size(_ value: Int?, _ field: String, _ limit: Int) throws -> Int? {
            guard let value else { return nil }
            guard value <= limit else {
                throw ModelConfigError(file: file, field: field,
                                       "expected at most \(limit) (treerpo's limit, far above any small model), found \(value)")
            }
            return value
        }
        typealias L = ModelConfigLimits
        vocabSize = try need(size(hf.vocabSize, "vocab_size", L.vocabSize), "vocab_size")
        hiddenSize = try need(size(hf.hiddenSize, gpt2 ? "n_embd" : "hidden_size", L.hiddenSize), gpt2 ? "n_embd" : "hidden_size")
        layers = try need(size(hf.numHiddenLayers, gpt2 ? "n_layer" : "num_hidden_layers", L.layers),
                          gpt2 ? "n_layer" : "num_hidden_layers")
        heads = try need(size(hf.numAttentionHeads, gpt2 ? "n_head" : "num_attention_heads", L.heads),
                         gpt2 ? "n_head" : "num_attention_heads")
        kvHeads = try size(hf.numKeyValueHeads, "num_key_value_heads", L.heads) ?? heads
        headDim = try size(hf.headDim, "head_dim", L.headDim) ?? (heads > 0 ? hiddenSize / heads : 0)
        let intermediate = try size(hf.intermediateSize, gpt2 ? "n_inner" : "intermediate_size", L.intermediateSize)
        let positions = try size(hf.maxPositionEmbeddings, gpt2 ? "n_positions" : "max_position_embeddings", L.maxPositions)
        bosTokenId = hf.bosTokenId
        eosTokenIds = hf.eosTokenIds ?? []

        switch family {
        case .gpt2:
            intermediateSize = intermediate ?? 4 * hiddenSize
            maxPositions = try need(positions, "n_positions")
            normEps = try Self.positiveFloat(hf.normEpsilon ?? 1e-5, field: "layer_norm_epsilon", file: file)
            ropeTheta = 0
            tiedEmbeddings = hf.tieWordEmbeddings ?? true
            qkvBias = true
            outputBias = true
            mlpBias = true
            switch hf.hiddenAct ?? "gelu_new" {
            case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": activation = .geluTanh
            case "gelu": activation = .geluErf
            case let other:
                throw ModelConfigError(file: file, field: "activation_function", "expected gelu_new or gelu, found \"\(other)\"")
            }
        case .llama, .qwen2:
            intermediateSize = try need(intermediate, "intermediate_size")
            maxPositions = positions ?? 2048
            normEps = try Self.positiveFloat(hf.normEpsilon ?? 1e-6, field: "rms_norm_eps", file: file)
            ropeTheta = try Self.positiveFloat(hf.ropeTheta ?? 10_000, field: "rope_theta", file: file)
            tiedEmbeddings = hf.tieWordEmbeddings ?? false
            let attentionBias = hf.attentionBias ?? false
            qkvBias = family == .qwen2 || attentionBias
            outputBias = family == .llama && attentionBias
            mlpBias = hf.mlpBias ?? false
            let act = hf.hiddenAct ?? "silu"
            guard act == "silu" else {
                throw ModelConfigError(file: file, field: "hidden_act", "expected silu, found \"\(act)\"")
            }
            activation = .silu
            try Self.refuseRopeScaling(hf, file: file)
            if family == .qwen2, hf.useSlidingWindow == true {
                throw ModelConfigError(file: file, field: "use_sliding_window",
                                       "expected false (sliding-window attention is not implemented), found true")
            }
        }
        try validate(file: file)
    }

    /// A setting that must be a positive, finite Float32 (a norm's epsilon, RoPE's base): a negative
    /// epsilon or base makes every logit NaN, and one that rounds to 0 or infinity in Float32 too.
    static func positiveFloat(_ value: Double, field: String, file: String) throws -> Float {
        let single = Float(value)
        guard value > 0, single > 0, single.isFinite else {
            throw ModelConfigError(file: file, field: field,
                                   "expected a positive number that is finite in 32-bit floating point, found \(value)")
        }
        return single
    }

    /// Only plain RoPE is implemented: any scaled variant would silently change every logit.
    static func refuseRopeScaling(_ hf: HFConfig, file: String) throws {
        for (field, object) in [("rope_scaling", hf.ropeScaling), ("rope_parameters", hf.ropeParameters)] {
            guard let object else { continue }
            let type = object["rope_type"]?.stringValue ?? object["type"]?.stringValue ?? "default"
            if type != "default" {
                throw ModelConfigError(file: file, field: "\(field).rope_type",
                                       "expected \"default\" (scaled RoPE is not implemented), found \"\(type)\"")
            }
        }
    }

    func validate(file: String) throws {
        let positive: [(String, Int)] = [
            ("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("intermediate_size", intermediateSize),
            ("num_hidden_layers", layers), ("num_attention_heads", heads), ("num_key_value_heads", kvHeads),
            ("head_dim", headDim), ("max_position_embeddings", maxPositions),
        ]
        for (field, value) in positive where value <= 0 {
            throw ModelConfigError(file: file, field: field, "expected a positive number, found \(value)")
        }
        guard heads % kvHeads == 0 else {
            throw ModelConfigError(file: file, field: "num_key_value_heads",
                                   "expected a divisor of num_attention_heads (\(heads)), found \(kvHeads)")
        }
        guard headDim % 2 == 0 || family == .gpt2 else {
            throw ModelConfigError(file: file, field: "head_dim", "expected an even number for RoPE, found \(headDim)")
        }
        if family == .gpt2, heads * headDim != hiddenSize {
            throw ModelConfigError(file: file, field: "n_head",
                                   "expected n_embd (\(hiddenSize)) divisible by n_head, found \(heads)")
        }
        if let bad = eosTokenIds.first(where: { $0 < 0 || $0 >= vocabSize }) {
            throw ModelConfigError(file: file, field: "eos_token_id", "expected an id below vocab_size \(vocabSize), found \(bad)")
        }
        // Every size is within its limit, so no product below overflows.
        let total = parameterSpecs.reduce(0) { $0 + $1.count }
        guard total <= ModelConfigLimits.parameters else {
            throw ModelConfigError(file: file, field: family == .gpt2 ? "n_embd" : "hidden_size",
                                   "the sizes describe \(total) parameters; expected at most \(ModelConfigLimits.parameters) (32 GiB of Float32)")
        }
    }
}

/// The largest sizes a config may give: far above any small model's (the largest common
/// vocabularies hold 256,000 tokens, hidden sizes of models that fit in memory stay below 16,384),
/// and low enough that nothing computed from them overflows or is allocated before the total
/// parameter count has been checked.
public enum ModelConfigLimits {
    public static let vocabSize = 1 << 24
    public static let hiddenSize = 1 << 16
    public static let intermediateSize = 1 << 18
    public static let layers = 1 << 10
    public static let heads = 1 << 10
    public static let headDim = 1 << 12
    public static let maxPositions = 1 << 20
    /// 2^33 Float32 parameters: 32 GiB.
    public static let parameters = 1 << 33
}

/// A config the runtime cannot use, naming the file and the field.
public struct ModelConfigError: Error, CustomStringConvertible, Equatable {
    public let file: String, field: String, message: String
    public init(file: String, field: String, _ message: String) {
        self.file = file; self.field = field; self.message = message
    }
    public var description: String { "\(file): field '\(field)': \(message)" }
}
