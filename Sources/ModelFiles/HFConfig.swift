import Foundation

/// A Hugging Face `config.json` for Llama, Qwen2/Qwen3 and GPT-2 style models.
///
/// Typed fields accept each architecture's spelling (GPT-2's `n_embd`, `n_layer`, ... and
/// transformers 5's `rope_parameters` / `dtype`); `raw` keeps the whole object so unknown fields
/// survive `encoded()`. Absent or null fields are nil: the defaults belong to the model code.
public struct HFConfig: Codable, Equatable, Sendable {
    public var modelType: String?
    public var architectures: [String]?
    public var vocabSize: Int?
    public var hiddenSize: Int?              // hidden_size | n_embd
    public var intermediateSize: Int?        // intermediate_size | n_inner (GPT-2: null = 4 * n_embd)
    public var numHiddenLayers: Int?         // num_hidden_layers | n_layer
    public var numAttentionHeads: Int?       // num_attention_heads | n_head
    public var numKeyValueHeads: Int?
    public var headDim: Int?
    public var normEpsilon: Double?          // rms_norm_eps | layer_norm_epsilon
    /// `rope_theta`, or transformers 5's `rope_parameters.rope_theta`.
    public var ropeTheta: Double?
    /// transformers 5 `rope_parameters`, e.g. {"rope_type": "default", "rope_theta": 1e6}.
    public var ropeParameters: [String: JSONValue]?
    /// transformers 4 `rope_scaling`, e.g. Llama 3's {"rope_type": "llama3", "factor": 32, ...}.
    public var ropeScaling: [String: JSONValue]?
    public var maxPositionEmbeddings: Int?   // max_position_embeddings | n_positions
    public var tieWordEmbeddings: Bool?
    public var bosTokenId: Int?
    /// `eos_token_id` as a list (a single id becomes one element).
    public var eosTokenIds: [Int]?
    public var padTokenId: Int?
    public var hiddenAct: String?            // hidden_act | activation_function
    public var attentionBias: Bool?
    public var mlpBias: Bool?
    public var slidingWindow: Int?
    public var useSlidingWindow: Bool?
    public var dtype: String?                // torch_dtype | dtype
    /// The whole JSON object as read.
    public var raw: [String: JSONValue]

    /// Key spellings per field, canonical (written for new fields) first.
    static let aliases: [String: [String]] = [
        "hidden_size": ["hidden_size", "n_embd"],
        "intermediate_size": ["intermediate_size", "n_inner"],
        "num_hidden_layers": ["num_hidden_layers", "n_layer"],
        "num_attention_heads": ["num_attention_heads", "n_head"],
        "norm_eps": ["rms_norm_eps", "layer_norm_epsilon", "layer_norm_eps"],
        "max_position_embeddings": ["max_position_embeddings", "n_positions"],
        "hidden_act": ["hidden_act", "activation_function"],
        "dtype": ["torch_dtype", "dtype"],
    ]

    public init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ModelFileError(.io, file: url.lastPathComponent, "cannot read config: \(PlainErrorText.describe(error))")
        }
        try self.init(data: data, file: url.lastPathComponent)
    }

    public init(data: Data, file: String = "config.json") throws {
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw ModelFileError(.malformed, file: file, "expected JSON, found: \(PlainErrorText.describe(error))")
        }
        guard let object = value.objectValue else {
            throw ModelFileError(.malformed, file: file, "expected a JSON object at the top level, found \(value)")
        }
        try self.init(object: object, file: file)
    }

    public init(from decoder: Decoder) throws {
        let value = try JSONValue(from: decoder)
        guard let object = value.objectValue else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "config.json: expected an object"))
        }
        try self.init(object: object, file: "config.json")
    }

    public func encode(to encoder: Encoder) throws {
        try JSONValue.object(mergedObject()).encode(to: encoder)
    }

    init(object: [String: JSONValue], file: String) throws {
        raw = object
        let read = HFConfigReader(object: object, file: file)
        modelType = try read.string(["model_type"])
        architectures = try read.strings("architectures")
        vocabSize = try read.int(["vocab_size"])
        hiddenSize = try read.int(Self.aliases["hidden_size"]!)
        intermediateSize = try read.int(Self.aliases["intermediate_size"]!)
        numHiddenLayers = try read.int(Self.aliases["num_hidden_layers"]!)
        numAttentionHeads = try read.int(Self.aliases["num_attention_heads"]!)
        numKeyValueHeads = try read.int(["num_key_value_heads"])
        headDim = try read.int(["head_dim"])
        normEpsilon = try read.double(Self.aliases["norm_eps"]!)
        ropeParameters = try read.object("rope_parameters")
        ropeScaling = try read.object("rope_scaling")
        ropeTheta = try read.double(["rope_theta"])
        if ropeTheta == nil, let nested = ropeParameters?["rope_theta"] {
            guard let theta = nested.doubleValue else {
                throw ModelFileError(.malformed, file: file, subject: "field 'rope_parameters.rope_theta'",
                                     "expected a number, found \(nested)")
            }
            ropeTheta = theta
        }
        maxPositionEmbeddings = try read.int(Self.aliases["max_position_embeddings"]!)
        tieWordEmbeddings = try read.bool("tie_word_embeddings")
        bosTokenId = try read.int(["bos_token_id"])
        eosTokenIds = try read.intOrInts("eos_token_id")
        padTokenId = try read.int(["pad_token_id"])
        hiddenAct = try read.string(Self.aliases["hidden_act"]!)
        attentionBias = try read.bool("attention_bias")
        mlpBias = try read.bool("mlp_bias")
        slidingWindow = try read.int(["sliding_window"])
        useSlidingWindow = try read.bool("use_sliding_window")
        dtype = try read.string(Self.aliases["dtype"]!)
    }

    /// `raw` with the typed fields written over it, each under the spelling the file used (or
    /// the canonical one). Nil fields leave `raw` untouched.
    public func mergedObject() -> [String: JSONValue] {
        var out = raw
        func put(_ key: String, _ value: JSONValue?) {
            guard let value else { return }
            let keys = Self.aliases[key] ?? [key]
            out[keys.first { raw[$0] != nil } ?? keys[0]] = value
        }
        put("model_type", modelType.map(JSONValue.string))
        put("architectures", architectures.map { .array($0.map(JSONValue.string)) })
        put("vocab_size", vocabSize.map { .int(Int64($0)) })
        put("hidden_size", hiddenSize.map { .int(Int64($0)) })
        put("intermediate_size", intermediateSize.map { .int(Int64($0)) })
        put("num_hidden_layers", numHiddenLayers.map { .int(Int64($0)) })
        put("num_attention_heads", numAttentionHeads.map { .int(Int64($0)) })
        put("num_key_value_heads", numKeyValueHeads.map { .int(Int64($0)) })
        put("head_dim", headDim.map { .int(Int64($0)) })
        put("norm_eps", normEpsilon.map(JSONValue.double))
        put("rope_scaling", ropeScaling.map(JSONValue.object))
        if var parameters = ropeParameters {
            if let ropeTheta, raw["rope_theta"] == nil { parameters["rope_theta"] = .double(ropeTheta) }
            out["rope_parameters"] = .object(parameters)
        }
        if let ropeTheta, raw["rope_theta"] != nil || ropeParameters == nil { out["rope_theta"] = .double(ropeTheta) }
        put("max_position_embeddings", maxPositionEmbeddings.map { .int(Int64($0)) })
        put("tie_word_embeddings", tieWordEmbeddings.map(JSONValue.bool))
        put("bos_token_id", bosTokenId.map { .int(Int64($0)) })
        if let eosTokenIds {
            // Keep a single id as a plain number unless the file had a list.
            let wasList = raw["eos_token_id"]?.arrayValue != nil
            out["eos_token_id"] = eosTokenIds.count == 1 && !wasList
                ? .int(Int64(eosTokenIds[0])) : .array(eosTokenIds.map { .int(Int64($0)) })
        }
        put("pad_token_id", padTokenId.map { .int(Int64($0)) })
        put("hidden_act", hiddenAct.map(JSONValue.string))
        put("attention_bias", attentionBias.map(JSONValue.bool))
        put("mlp_bias", mlpBias.map(JSONValue.bool))
        put("sliding_window", slidingWindow.map { .int(Int64($0)) })
        put("use_sliding_window", useSlidingWindow.map(JSONValue.bool))
        put("dtype", dtype.map(JSONValue.string))
        return out
    }

    /// Pretty-printed JSON with sorted keys.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            return try encoder.encode(JSONValue.object(mergedObject()))
        } catch {
            throw ModelFileError(.malformed, file: "config.json", "cannot encode: \(PlainErrorText.describe(error))")
        }
    }

    public func write(to url: URL) throws {
        try AtomicFile.write(try encoded(), to: url)
    }
}
