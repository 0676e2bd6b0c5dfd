import Foundation

/// A Hugging Face `tokenizer.json` (and `tokenizer_config.json`) rebuilt from a GGUF file's
/// `tokenizer.ggml.*` metadata. Only the byte-level BPE model llama.cpp calls `gpt2` is built:
/// its tokens are already spelled in the byte-level alphabet, so `tokens` is the vocabulary
/// (id = position) and `merges` the merge list, as in the original tokenizer.json. The
/// pre-tokenizer is chosen by `tokenizer.ggml.pre` (llama.cpp's name for the split rules the
/// merges were learned with); tokens typed CONTROL (3) become special added tokens and
/// USER_DEFINED (4) plain added tokens, so they stay whole.
public enum GGUFTokenizer {
    public struct Built: Sendable {
        public let tokenizerJSON: Data
        public let tokenizerConfigJSON: Data
        public let tokenCount: Int
        /// e.g. "gpt2 BPE, pre-tokenizer smollm, 49152 tokens, 48900 merges, chat template".
        public let summary: String
    }

    /// `tokenizer.ggml.pre` values and the Hugging Face pre-tokenizer each stands for.
    static func preTokenizer(_ pre: String) -> JSONValue? {
        let byteLevelRegex: JSONValue = .object(["type": .string("ByteLevel"), "add_prefix_space": .bool(false),
                                                 "trim_offsets": .bool(true), "use_regex": .bool(true)])
        let byteLevelPlain: JSONValue = .object(["type": .string("ByteLevel"), "add_prefix_space": .bool(false),
                                                 "trim_offsets": .bool(false), "use_regex": .bool(false)])
        func split(_ regex: String) -> JSONValue {
            .object(["type": .string("Sequence"), "pretokenizers": .array([
                .object(["type": .string("Split"), "pattern": .object(["Regex": .string(regex)]),
                         "behavior": .string("Isolated"), "invert": .bool(false)]),
                byteLevelPlain])])
        }
        switch pre {
        case "default", "gpt2": return byteLevelRegex
        // SmolLM's tokenizer.json: every digit alone, then GPT-2's split (llama.cpp: \p{N} first).
        case "smollm":
            return .object(["type": .string("Sequence"), "pretokenizers": .array([
                .object(["type": .string("Digits"), "individual_digits": .bool(true)]), byteLevelRegex])])
        case "qwen2":
            return split(#"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#)
        case "llama3", "llama-bpe", "llama-v3":
            return split(#"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#)
        default: return nil
        }
    }
    public static let knownPreTokenizers = ["default", "gpt2", "smollm", "qwen2", "llama3", "llama-bpe", "llama-v3"]

    /// nil when the file names no tokenizer model (`tokenizer.ggml.model` absent).
    public static func build(_ file: GGUFFile) throws -> Built? {
        func fail(_ key: String, _ kind: ModelFileError.Kind, _ message: String) -> ModelFileError {
            ModelFileError(kind, file: file.file, subject: "field '\(key)'", message)
        }
        func fail(_ key: String, _ message: String) -> ModelFileError { fail(key, .malformed, message) }
        guard let modelValue = file["tokenizer.ggml.model"] else { return nil }
        guard let model = modelValue.stringValue, model == "gpt2" else {
            throw fail("tokenizer.ggml.model", .unsupported,
                       "expected \"gpt2\" (byte-level BPE, the only tokenizer model rebuilt), found \(modelValue.stringValue.map { "\"\($0)\"" } ?? modelValue.typeName)")
        }
        func strings(_ key: String) throws -> [String] {
            guard let value = file[key] else { throw fail(key, .missing, "expected an array of strings for the gpt2 tokenizer, found none") }
            guard case .array(8, let items) = value else { throw fail(key, "expected an ARRAY of STRING, found \(value.typeName)") }
            return items.map { $0.stringValue! }
        }
        let tokens = try strings("tokenizer.ggml.tokens")
        let merges = try strings("tokenizer.ggml.merges")
        var types = [Int](repeating: 1, count: tokens.count)
        if let value = file["tokenizer.ggml.token_type"] {
            guard let items = value.arrayValue, items.allSatisfy({ $0.intValue != nil }) else {
                throw fail("tokenizer.ggml.token_type", "expected an ARRAY of integers, found \(value.typeName)")
            }
            guard items.count == tokens.count else {
                throw fail("tokenizer.ggml.token_type", "expected one type per token (\(tokens.count)), found \(items.count)")
            }
            types = items.map { $0.intValue! }
        }
        let preName = file["tokenizer.ggml.pre"]?.stringValue ?? "default"
        guard let pre = preTokenizer(preName) else {
            throw fail("tokenizer.ggml.pre", .unsupported,
                       "expected one of \(knownPreTokenizers.joined(separator: ", ")), found \"\(preName)\"")
        }
        var vocab: [String: JSONValue] = [:]
        vocab.reserveCapacity(tokens.count)
        for (id, token) in tokens.enumerated() {
            if vocab[token] != nil {
                throw fail("tokenizer.ggml.tokens", "expected each token once, found \"\(token)\" again at id \(id)")
            }
            vocab[token] = .int(Int64(id))
        }
        for (i, merge) in merges.enumerated() where merge.split(separator: " ", omittingEmptySubsequences: false).count != 2 {
            throw fail("tokenizer.ggml.merges", "expected \"left right\" at merge #\(i), found \"\(merge)\"")
        }
        func id(_ key: String) throws -> Int? {
            guard let value = file[key] else { return nil }
            guard let n = value.intValue, n >= 0, n < tokens.count else {
                throw fail(key, .outOfBounds, "expected a token id below \(tokens.count), found \(value)")
            }
            return n
        }
        let bos = try id("tokenizer.ggml.bos_token_id"), eos = try id("tokenizer.ggml.eos_token_id")
        let unk = try id("tokenizer.ggml.unknown_token_id"), pad = try id("tokenizer.ggml.padding_token_id")
        let addBOS = file["tokenizer.ggml.add_bos_token"]?.boolValue ?? false

        var added: [JSONValue] = []
        for (id, type) in types.enumerated() where type == 3 || type == 4 {
            added.append(.object([
                "id": .int(Int64(id)), "content": .string(tokens[id]), "single_word": .bool(false),
                "lstrip": .bool(false), "rstrip": .bool(false), "normalized": .bool(false), "special": .bool(type == 3),
            ]))
        }
        let byteLevel: JSONValue = .object(["type": .string("ByteLevel"), "add_prefix_space": .bool(true),
                                            "trim_offsets": .bool(false), "use_regex": .bool(true)])
        var postProcessor = byteLevel
        if addBOS, let bos {
            let token = tokens[bos]
            postProcessor = .object([
                "type": .string("TemplateProcessing"),
                "single": .array([.object(["SpecialToken": .object(["id": .string(token), "type_id": .int(0)])]),
                                  .object(["Sequence": .object(["id": .string("A"), "type_id": .int(0)])])]),
                "pair": .array([.object(["SpecialToken": .object(["id": .string(token), "type_id": .int(0)])]),
                                .object(["Sequence": .object(["id": .string("A"), "type_id": .int(0)])]),
                                .object(["SpecialToken": .object(["id": .string(token), "type_id": .int(1)])]),
                                .object(["Sequence": .object(["id": .string("B"), "type_id": .int(1)])])]),
                "special_tokens": .object([token: .object(["id": .string(token), "ids": .array([.int(Int64(bos))]),
                                                           "tokens": .array([.string(token)])])]),
            ])
        }
        let tokenizer: JSONValue = .object([
            "version": .string("1.0"), "truncation": .null, "padding": .null,
            "added_tokens": .array(added), "normalizer": .null, "pre_tokenizer": pre,
            "post_processor": postProcessor, "decoder": byteLevel,
            "model": .object([
                "type": .string("BPE"), "dropout": .null, "unk_token": .null, "continuing_subword_prefix": .null,
                "end_of_word_suffix": .null, "fuse_unk": .bool(false), "byte_fallback": .bool(false),
                "ignore_merges": .bool(false), "vocab": .object(vocab), "merges": .array(merges.map(JSONValue.string)),
            ]),
        ])
        var config: [String: JSONValue] = [
            "tokenizer_class": .string("GPT2Tokenizer"), "add_bos_token": .bool(addBOS), "add_eos_token": .bool(false),
            "clean_up_tokenization_spaces": .bool(false),
        ]
        for (key, id) in [("bos_token", bos), ("eos_token", eos), ("unk_token", unk), ("pad_token", pad)] {
            if let id { config[key] = .string(tokens[id]) }
        }
        let template = file["tokenizer.chat_template"]?.stringValue
        if let template { config["chat_template"] = .string(template) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let summary = "gpt2 BPE, pre-tokenizer \(preName), \(tokens.count) tokens, \(merges.count) merges, \(added.count) added"
            + (template != nil ? ", chat template" : "")
        return Built(tokenizerJSON: try encoder.encode(tokenizer), tokenizerConfigJSON: try encoder.encode(JSONValue.object(config)),
                     tokenCount: tokens.count, summary: summary)
    }
}
