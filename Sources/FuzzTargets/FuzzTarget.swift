import Foundation
import ModelFiles
import Tokenization
import ModelIO
import Transformer

/// The readers of everything treerpo takes from a file, each as one function of the file's bytes,
/// for the fuzzer (`treerpo-fuzz`, `tools/fuzz.sh`). A reader may accept the bytes or refuse them
/// with one of the library's own errors, which name the file and field; any other outcome (a
/// crash, a trap, an error of another type, an allocation above the limit, a hang) is a finding.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// An ONNX graph through the whole import: protobuf, config inference, weight resolution.
    case onnx
    /// A safetensors file: header, then every tensor's values.
    case safetensors
    /// A Hugging Face `config.json` into the runtime's checked `ModelConfig`.
    case config
    /// A `tokenizer.json`, then an encode and a decode with it.
    case tokenizer
    /// A GGUF file: header, metadata, tensor table, the tokenizer rebuilt from its metadata, then
    /// the whole import (config from the metadata, every tensor dequantised).
    case gguf

    /// What a run of the reader on one input came to.
    public enum Outcome: Equatable, Sendable {
        case accepted
        /// Refused with the library's own error; the message it would print.
        case refused(String)
    }

    /// An error that is not one of the library's own: the reader let something through that it
    /// should have named.
    public struct Finding: Error, CustomStringConvertible {
        public let description: String
    }

    /// The library's own error types: each names the file and what was wrong with it.
    static func isLibraryError(_ error: Error) -> Bool {
        error is ModelFileError || error is ImportError || error is ModelConfigError || error is TokenizerError
            || error is LoadError
    }

    /// Words that belong to the implementation, not to the user's file: Foundation error domains,
    /// Swift type and case names.
    static let internals = ["NSCocoaErrorDomain", "CocoaError", "DecodingError", "JSONValue.", "Swift.", "malformedProtobuf",
                            "Optional(", "keyNotFound", "typeMismatch", "valueNotFound", "dataCorrupted", "CodingKeys"]

    public func run(_ bytes: Data) throws -> Outcome {
        do {
            try read(bytes)
            return .accepted
        } catch let error as Finding {
            throw error
        } catch where Self.isLibraryError(error) {
            let message = "\(error)"
            // A refusal a user can act on names the file it read.
            guard message.contains(fileName) else {
                throw Finding(description: "\(rawValue): the message does not name \(fileName): \(message)")
            }
            if let leak = Self.internals.first(where: { message.contains($0) }) {
                throw Finding(description: "\(rawValue): the message shows \(leak), an internal a user cannot act on: \(message)")
            }
            return .refused(message)
        } catch {
            throw Finding(description: "\(rawValue): not one of the library's errors: \(type(of: error)): \(error)")
        }
    }

    static let scratch: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("treerpo-fuzz-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    var fileName: String {
        switch self {
        case .onnx: return "model.onnx"
        case .safetensors: return "model.safetensors"
        case .config: return "config.json"
        case .tokenizer: return "tokenizer.json"
        case .gguf: return "model.gguf"
        }
    }

    func read(_ bytes: Data) throws {
        switch self {
        case .onnx:
            // No folder: a graph that names external data is refused, never read from elsewhere.
            let model = try ONNXModel(serializedData: bytes, file: fileName, directory: nil)
            let inferred = try ConfigInference.infer(model, directory: nil)
            _ = try ONNXImport.load(model, config: inferred.config, directory: nil)
        case .safetensors:
            let file = try SafeTensorsFile(data: bytes, file: fileName)
            for entry in file.entries where [.f32, .f16, .bf16, .f64].contains(entry.dtype) {
                _ = try file.floats(entry.name)
            }
        case .config:
            let hf = try HFConfig(data: bytes, file: fileName)
            _ = try ModelConfig(hf: hf, file: fileName)
        case .tokenizer:
            let tokenizer = try Tokenizer(json: bytes, fileName: fileName)
            let ids = tokenizer.encode("Question: 12 + 30 = ?\nAnswer: 42 héllo 🙂", addSpecialTokens: true)
            _ = tokenizer.decode(ids)
        case .gguf:
            let file = try GGUFFile(data: bytes, file: fileName)
            _ = try GGUFTokenizer.build(file)
            // The importer reads from a path: one scratch file per process, rewritten per case.
            let url = Self.scratch.appendingPathComponent(fileName)
            try bytes.write(to: url)
            _ = try Importer.load(Importer.Request(source: url))
        }
    }
}
