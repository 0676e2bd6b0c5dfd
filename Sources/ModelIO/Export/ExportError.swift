import Transformer
import Foundation

/// Why an export was refused or failed. Names the file, the tensor / parameter / field, what was
/// expected and what was found, e.g.
/// `runs/a/checkpoints/step-00000003/model.safetensors: tensor 'model.norm.weight': expected
///  shape [32] (as in base/import-map.json), found [16]`.
public struct ExportError: SettingError, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: String, Sendable {
        /// No workspace, or no imported model in it.
        case workspace
        /// The checkpoint cannot be found or read, or does not fit the import map.
        case checkpoint
        /// The imported source (the original ONNX graph) is gone or changed since the import.
        case source
        /// The import map does not describe the source file (edited by hand?).
        case importMap
        /// Parameters that share one initializer were trained apart and the graph cannot be split.
        case split
        /// The output folder exists and may not be replaced.
        case output
        /// A file could not be written (no room on disk, permissions, ...).
        case io
        /// A format that this workspace cannot be exported to.
        case unsupported
    }

    public let kind: Kind
    public let file: String
    /// "parameter 'x'", "tensor 'y'", "node 'z' (Mul)", "field 'configDigest'".
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

extension ExportError: LocalizedError {
    public var errorDescription: String? { description }
}
