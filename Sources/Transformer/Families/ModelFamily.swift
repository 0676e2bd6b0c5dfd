/// The model families the runtime implements, by Hugging Face `model_type` (and GGUF
/// `general.architecture`): the registry. Adding a family is one file in `Families/` and one
/// case here.
public enum ModelFamily: String, Codable, Sendable, CaseIterable {
    /// Llama / SmolLM2: RMSNorm, RoPE, grouped-query attention, SwiGLU MLP, no biases.
    case llama
    /// Qwen2: as Llama, plus biases on the q, k and v projections.
    case qwen2
    /// Qwen3: as Llama, plus a per-head RMSNorm on queries and keys; head_dim set on its own.
    case qwen3
    /// GPT-2: LayerNorm, learned positions, fused qkv (Conv1D `[in, out]` weights), GELU.
    case gpt2

    public var architecture: any Architecture.Type {
        switch self {
        case .llama, .qwen2: return Llama.self
        case .qwen3: return Qwen3.self
        case .gpt2: return GPT2.self
        }
    }

    /// "llama, qwen2, qwen3, gpt2", for errors naming what is supported.
    public static var supportedList: String { allCases.map(\.rawValue).joined(separator: ", ") }
}
