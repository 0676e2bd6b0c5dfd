import Transformer
import Foundation
import ModelFiles

/// A Hugging Face config.json made from a GGUF file's metadata: `general.architecture` names the
/// family, its `{arch}.*` keys give the sizes (the keys llama.cpp's converter writes), the
/// tokenizer keys give the special ids, and the absence of `output.weight` means tied embeddings.
/// Each required key that is missing is named in the error.
enum GGUFConfig {
    static func hfObject(_ file: GGUFFile, path: String) throws -> [String: JSONValue] {
        func fail(_ key: String, _ message: String) -> ImportError {
            ImportError(.config, file: path, subject: "field '\(key)'", message)
        }
        guard let archValue = file["general.architecture"] else {
            throw fail("general.architecture", "expected one of \(ModelFamily.supportedList) in the GGUF metadata, found none")
        }
        guard let arch = archValue.stringValue, let family = ModelFamily(rawValue: arch) else {
            throw ImportError(.unsupported, file: path, subject: "field 'general.architecture'",
                              "expected one of \(ModelFamily.supportedList), found \(archValue.stringValue.map { "\"\($0)\"" } ?? archValue.typeName)")
        }
        func int(_ key: String) throws -> Int? {
            guard let value = file[key] else { return nil }
            guard let n = value.intValue, n >= 0 else { throw fail(key, "expected a non-negative integer, found \(value.typeName) \(value)") }
            // ModelConfig applies the real limits; this one only keeps the sums and products
            // made here (4 x embedding_length) from overflowing first.
            guard n <= 1 << 40 else { throw fail(key, "expected at most \(1 << 40), found \(n)") }
            return n
        }
        func need(_ suffix: String) throws -> Int {
            let key = "\(arch).\(suffix)"
            guard let n = try int(key) else { throw fail(key, "expected an integer in the GGUF metadata, found none") }
            return n
        }
        func double(_ key: String) throws -> Double? {
            guard let value = file[key] else { return nil }
            guard let d = value.doubleValue else { throw fail(key, "expected a number, found \(value.typeName) \(value)") }
            // An infinity or NaN cannot be written to config.json (JSON has no such numbers).
            guard d.isFinite else { throw fail(key, "expected a finite number, found \(d)") }
            return d
        }
        if let scaling = file["\(arch).rope.scaling.type"], scaling.stringValue != "none" {
            throw ImportError(.unsupported, file: path, subject: "field '\(arch).rope.scaling.type'",
                              "expected \"none\" (scaled RoPE is not implemented), found \(scaling.stringValue.map { "\"\($0)\"" } ?? "\(scaling)")")
        }
        let hidden = try need("embedding_length")
        let layers = try need("block_count")
        let heads = try need("attention.head_count")
        let feedForward = try int("\(arch).feed_forward_length")
        let context = try need("context_length")
        let tokens = file["tokenizer.ggml.tokens"]?.arrayValue?.count
        let embeddingRows = file.hasTensor("token_embd.weight") ? (try? file.tensor("token_embd.weight"))?.dims.last : nil
        guard let vocab = try int("\(arch).vocab_size") ?? tokens ?? embeddingRows else {
            throw fail("\(arch).vocab_size", "expected it, tokenizer.ggml.tokens or a token_embd.weight tensor, found none")
        }
        var object: [String: JSONValue] = [
            "model_type": .string(arch), "vocab_size": .int(Int64(vocab)), "torch_dtype": .string("float32"),
        ]
        for (hfKey, ggufKey) in [("bos_token_id", "tokenizer.ggml.bos_token_id"), ("eos_token_id", "tokenizer.ggml.eos_token_id"),
                                 ("pad_token_id", "tokenizer.ggml.padding_token_id")] {
            if let id = try int(ggufKey) { object[hfKey] = .int(Int64(id)) }
        }
        let metadata = GGUFMetadata(
            arch: arch, int: int, double: double, hasTensor: { file.hasTensor($0) },
            missing: { fail($0, "expected a value in the GGUF metadata, found none") },
            unsupported: { ImportError(.unsupported, file: path, subject: "field '\($0)'", $1) })
        let sizes = GGUFSizes(hidden: hidden, layers: layers, heads: heads, context: context, feedForward: feedForward)
        object.merge(try family.architecture.ggufSettings(metadata, sizes: sizes)) { $1 }
        return object
    }
}
