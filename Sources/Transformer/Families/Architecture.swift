import ModelFiles
import Tensors

/// One model family: everything that differs between families, in one file under `Families/`
/// (`Llama.swift` for Llama and Qwen2, `Qwen3.swift`, `GPT2.swift`), registered by its
/// `model_type` in `ModelFamily`. The rest of the runtime (the forward and backward drivers, the
/// KV cache, the sampler, import and export) reads a family only through this protocol.
public protocol Architecture {
    // MARK: Configuration

    /// config.json's spellings of the shared sizes, for error messages (GPT-2: n_embd, ...).
    static var sizeFields: SizeFieldNames { get }
    /// The family's own settings from config.json, into `c` (whose shared sizes are read and
    /// bounded already): defaults, biases, activation, norms; unsupported options refused.
    static func readSettings(_ hf: HFConfig, into c: inout ModelConfig, file: String) throws
    /// Checks only this family needs (RoPE's even head size, GPT-2's n_embd = n_head x head).
    static func validate(_ c: ModelConfig, file: String) throws
    /// The family's config.json fields from GGUF metadata (`{arch}.*` keys); the shared sizes
    /// (hidden, layers, heads, context, vocabulary, special ids) are read by the importer.
    static func ggufSettings(_ metadata: GGUFMetadata, sizes: GGUFSizes) throws -> [String: JSONValue]

    // MARK: Parameters and checkpoint names

    /// Every trainable parameter with the shape Hugging Face stores it in.
    static func parameterSpecs(_ c: ModelConfig) -> [ParameterSpec]
    static var embeddingName: String { get }
    /// Learned position table `[maxPositions, h]` (GPT-2), or nil.
    static var positionEmbeddingName: String? { get }
    static var finalNormName: String { get }
    /// The final norm's bias (LayerNorm), or nil for RMSNorm.
    static var finalNormBiasName: String? { get }
    /// LayerNorm keeps a mean per row as well as the rstd.
    static var normHasMean: Bool { get }
    /// Checkpoint names that are not parameters (buffers the runtime recomputes), dropped on load.
    static func isIgnoredCheckpointName(_ name: String) -> Bool
    /// A 2-D parameter Hugging Face stores `[in, out]` (GPT-2's Conv1D) rather than `[out, in]`.
    static func storesInputFirst(_ parameter: String) -> Bool
    /// The Hugging Face name of a llama.cpp tensor name and how its values are stored; nil when
    /// the name is not one of the family's.
    static func huggingFaceName(gguf name: String, family: ModelFamily) -> (name: String, layout: StoredLayout)?

    // MARK: Runtime

    /// One layer's buffers for `tokens` rows (the per-layer part of `BufferPlan`).
    static func layerBuffers(_ c: ModelConfig, tokens n: Int, keepsLayers: Bool) -> [BufferPlan.Buffer]
    /// The backward pass's buffers for `tokens` rows.
    static func gradientBuffers(_ c: ModelConfig, tokens n: Int) -> [BufferPlan.Buffer]
    /// The decoder layers over `parameters` (laid out by `parameterSpecs`).
    static func makeLayers(_ parameters: Parameters, config: ModelConfig) -> any DecoderLayers
}

/// A family's decoder layers: block forward and block backward, side by side in its file.
public protocol DecoderLayers: AnyObject {
    /// Layer l over n rows, updating the residual stream `a.x [n, h]`; `attend(l, buffers)` fills
    /// `attn` and `lse` from q, k, v (packed attention with a mask, or the KV cache).
    func forward(layer l: Int, count n: Int, positions: UnsafePointer<Int32>, activations a: Activations,
                 attend: (Int, Activations.Layer) -> Void)
    /// Reverse of `forward` for layer l. On entry `s[.dx] [n, h]` is d loss / d (stream after the
    /// layer); on return d loss / d (stream entering it). Parameter gradients are added into `g`.
    func backward(layer l: Int, count n: Int, positions: UnsafePointer<Int32>, mask: AttentionMask,
                  activations a: Activations, scratch s: BufferArena, gradients g: Parameters)
}

/// config.json field names of the sizes every family has.
public struct SizeFieldNames: Sendable {
    public var hidden = "hidden_size", layers = "num_hidden_layers", heads = "num_attention_heads"
    public var intermediate = "intermediate_size", positions = "max_position_embeddings"
    public init() {}
}

/// How a stored (GGUF) tensor's values relate to the Hugging Face parameter.
public enum StoredLayout: String, Codable, Sendable {
    case same
    /// Stored `[out, in]`, Hugging Face `[in, out]` (GPT-2 Conv1D).
    case transposed
    /// Rows in llama.cpp's rotary order with this many heads (q: heads, k: kv heads).
    case rotaryPermuted
}

/// The GGUF metadata as a family reads it: lookups whose errors (wrong type, out of range,
/// missing) the importer words, naming the file and the key.
public struct GGUFMetadata {
    /// The architecture name, the prefix of the family's keys (`llama` in `llama.block_count`).
    public let arch: String
    public let int: (String) throws -> Int?
    public let double: (String) throws -> Double?
    public let hasTensor: (String) -> Bool
    /// An error for a required key that is missing or wrong.
    public let missing: (String) -> Error
    /// An error for a key whose value the runtime does not implement.
    public let unsupported: (String, String) -> Error

    public init(arch: String, int: @escaping (String) throws -> Int?, double: @escaping (String) throws -> Double?,
                hasTensor: @escaping (String) -> Bool, missing: @escaping (String) -> Error,
                unsupported: @escaping (String, String) -> Error) {
        (self.arch, self.int, self.double, self.hasTensor, self.missing, self.unsupported) = (arch, int, double, hasTensor, missing, unsupported)
    }
}

/// The shared sizes the importer read from GGUF metadata, which family settings derive from.
public struct GGUFSizes: Sendable {
    public var hidden: Int, layers: Int, heads: Int, context: Int, feedForward: Int?
    public init(hidden: Int, layers: Int, heads: Int, context: Int, feedForward: Int?) {
        (self.hidden, self.layers, self.heads, self.context, self.feedForward) = (hidden, layers, heads, context, feedForward)
    }
}
