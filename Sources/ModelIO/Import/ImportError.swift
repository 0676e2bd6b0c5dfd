import Transformer
import Foundation

/// Why an import was refused. Names the file, the tensor / parameter / field, what was expected
/// and what was found, e.g.
/// `model.onnx: parameter 'model.layers.0.self_attn.q_proj.weight': missing: expected an
///  initializer named so, an Identity output named so, or a MatMul/Gemm/Gather whose module path
///  is model.layers.0.self_attn.q_proj; found none`.
public struct ImportError: SettingError, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: String, Sendable {
        /// A parameter of the model's name map that no clue in the file leads to.
        case missing
        /// A tensor that looks like a weight but maps to no parameter.
        case extra
        /// Two different tensors claim one parameter.
        case ambiguous
        /// A tensor whose shape (after transposition) is not the parameter's.
        case misshaped
        /// Valid input this importer does not handle (quantised weights, genai graphs, dtypes).
        case unsupported
        /// Copies of one parameter (e.g. the tied embedding and its transposed head copy) differ.
        case inconsistent
        /// The config cannot be found or inferred.
        case config
        /// The workspace cannot be written, or already holds a model.
        case workspace
        /// The source path is not a model this importer reads.
        case source
    }

    public let kind: Kind
    public let file: String
    /// "parameter 'x'", "tensor 'y'", "node 'z' (MatMulNBits)", "field 'num_attention_heads'".
    public let subject: String?
    public let message: String
    /// The setting that would avoid the refusal, if one would (the command line adds its flag).
    public let setting: Setting?

    public init(_ kind: Kind, file: String, subject: String? = nil, _ message: String, setting: Setting? = nil) {
        self.kind = kind
        self.file = file
        self.subject = subject
        self.message = message
        self.setting = setting
    }

    public var description: String {
        if let subject { return "\(file): \(subject): \(message)" }
        return "\(file): \(message)"
    }
}

extension ImportError: LocalizedError {
    public var errorDescription: String? { description }
}
