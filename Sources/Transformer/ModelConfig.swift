import Foundation
import ModelFiles
import Tensors

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
    /// RoPE base (Llama, Qwen2, Qwen3); unused by GPT-2.
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
            throw ModelConfigError(file: file, field: "model_type", "expected one of \(ModelFamily.supportedList), found none")
        }
        guard let family = ModelFamily(rawValue: type) else {
            throw ModelConfigError(file: file, field: "model_type", "expected one of \(ModelFamily.supportedList), found \"\(type)\"")
        }
        self.family = family
        let names = family.architecture.sizeFields
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
        hiddenSize = try need(size(hf.hiddenSize, names.hidden, L.hiddenSize), names.hidden)
        layers = try need(size(hf.numHiddenLayers, names.layers, L.layers), names.layers)
        heads = try need(size(hf.numAttentionHeads, names.heads, L.heads), names.heads)
        kvHeads = try size(hf.numKeyValueHeads, "num_key_value_heads", L.heads) ?? heads
        headDim = try size(hf.headDim, "head_dim", L.headDim) ?? (heads > 0 ? hiddenSize / heads : 0)
        // Set by the family (the defaults of each differ); 0 until then.
        intermediateSize = try size(hf.intermediateSize, names.intermediate, L.intermediateSize) ?? 0
        maxPositions = try size(hf.maxPositionEmbeddings, names.positions, L.maxPositions) ?? 0
        bosTokenId = hf.bosTokenId
        eosTokenIds = hf.eosTokenIds ?? []
        (normEps, ropeTheta, tiedEmbeddings, qkvBias, outputBias, mlpBias, activation) = (0, 0, false, false, false, false, .silu)
        try family.architecture.readSettings(hf, into: &self, file: file)
        try validate(file: file)
    }

    /// A setting that must be a positive, finite Float32 (a norm's epsilon, RoPE's base): a negative
    /// epsilon or base makes every logit NaN, and one that rounds to 0 or infinity in Float32 too.
    public static func positiveFloat(_ value: Double, field: String, file: String) throws -> Float {
        let single = Float(value)
        guard value > 0, single > 0, single.isFinite else {
            throw ModelConfigError(file: file, field: field,
                                   "expected a positive number that is finite in 32-bit floating point, found \(value)")
        }
        return single
    }

    /// Only plain RoPE is implemented: any scaled variant would silently change every logit.
    public static func refuseRopeScaling(_ hf: HFConfig, file: String) throws {
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
        try family.architecture.validate(self, file: file)
        if let bad = eosTokenIds.first(where: { $0 < 0 || $0 >= vocabSize }) {
            throw ModelConfigError(file: file, field: "eos_token_id", "expected an id below vocab_size \(vocabSize), found \(bad)")
        }
        // Every size is within its limit, so no product below overflows.
        let total = parameterSpecs.reduce(0) { $0 + $1.count }
        guard total <= ModelConfigLimits.parameters else {
            throw ModelConfigError(file: file, field: family.architecture.sizeFields.hidden,
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
