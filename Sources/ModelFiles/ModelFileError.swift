// The ModelFiles module reads and writes model *file formats* only: ONNX (protobuf),
// safetensors and Hugging Face config.json. It knows nothing about transformers.
import Foundation

/// Every failure of this module: names the file, the tensor or field, what was expected and
/// what was found, e.g.
/// `model.onnx: tensor 'w': expected 24 bytes of raw_data for FLOAT [2, 3], found 20`.
public struct ModelFileError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: String, Sendable {
        /// The file could not be opened, read, written or renamed.
        case io
        /// The bytes are not the format (bad protobuf, bad JSON, bad header length, ...).
        case malformed
        /// Offsets, lengths or sizes that do not fit the file or each other.
        case outOfBounds
        /// Valid for the format, but something this module does not handle (e.g. a dtype).
        case unsupported
        /// A tensor, field or file that is required but absent.
        case missing
    }

    public let kind: Kind
    /// The file name (last path component, or a path when that is clearer).
    public let file: String
    /// The tensor, node or field concerned, e.g. "tensor 'w'" or "field 'data_offsets'".
    public let subject: String?
    public let message: String

    public init(_ kind: Kind, file: String, subject: String? = nil, _ message: String) {
        self.kind = kind
        self.file = file
        self.subject = subject
        self.message = message
    }

    public var description: String {
        if let subject { return "\(file): \(subject): \(message)" }
        return "\(file): \(message)"
    }
}

extension ModelFileError: LocalizedError {
    public var errorDescription: String? { description }
}

/// Maps a file with `.alwaysMapped` so that multi-GB weights are paged in on demand instead of
/// copied; wraps the Foundation error into a `ModelFileError` that names the file.
func mapFile(_ url: URL, what: String = "file") throws -> Data {
    guard FileManager.default.fileExists(atPath: url.path) else {
        throw ModelFileError(.missing, file: url.lastPathComponent, "\(what) does not exist at \(url.path)")
    }
    do {
        return try Data(contentsOf: url, options: .alwaysMapped)
    } catch {
        throw ModelFileError(.io, file: url.lastPathComponent, "cannot read \(what): \(PlainErrorText.describe(error))")
    }
}
