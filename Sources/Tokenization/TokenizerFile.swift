import Foundation

// The parts of Hugging Face `tokenizer.json` that a byte-level BPE tokenizer uses, decoded with
// `Codable`. Components are tagged unions keyed by `"type"`; a type this module does not implement
// is an error naming the field (e.g. `pre_tokenizer.pretokenizers[1].type`), never a silent fallback.

struct TokenizerFile: Decodable {
    var addedTokens: [AddedTokenConfig]
    var normalizer: NormalizerConfig?
    var preTokenizer: PreTokenizerConfig?
    var postProcessor: PostProcessorConfig?
    var decoder: DecoderConfig?
    var model: BPEConfig

    enum CodingKeys: String, CodingKey {
        case addedTokens = "added_tokens", normalizer, preTokenizer = "pre_tokenizer"
        case postProcessor = "post_processor", decoder, model
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        addedTokens = try c.decodeIfPresent([AddedTokenConfig].self, forKey: .addedTokens) ?? []
        normalizer = try c.decodeIfPresent(NormalizerConfig.self, forKey: .normalizer)
        preTokenizer = try c.decodeIfPresent(PreTokenizerConfig.self, forKey: .preTokenizer)
        postProcessor = try c.decodeIfPresent(PostProcessorConfig.self, forKey: .postProcessor)
        self.decoder = try c.decodeIfPresent(DecoderConfig.self, forKey: .decoder)
        model = try c.decode(BPEConfig.self, forKey: .model)
    }
}

/// One entry of `added_tokens`: `{id, content, single_word, lstrip, rstrip, normalized, special}`.
struct AddedTokenConfig: Decodable {
    var id: Int
    var content: String
    var singleWord: Bool
    var lstrip: Bool
    var rstrip: Bool
    var normalized: Bool
    var special: Bool

    enum CodingKeys: String, CodingKey {
        case id, content, singleWord = "single_word", lstrip, rstrip, normalized, special
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(Int.self, forKey: .id)
        content = try c.decode(String.self, forKey: .content)
        singleWord = try c.decodeIfPresent(Bool.self, forKey: .singleWord) ?? false
        lstrip = try c.decodeIfPresent(Bool.self, forKey: .lstrip) ?? false
        rstrip = try c.decodeIfPresent(Bool.self, forKey: .rstrip) ?? false
        special = try c.decodeIfPresent(Bool.self, forKey: .special) ?? false
        // The library's default: special tokens match the raw text, others the normalized text.
        normalized = try c.decodeIfPresent(Bool.self, forKey: .normalized) ?? !special
        if id < 0 || id > Tokenizer.maxTokenId {
            throw FieldError(c.codingPath + [CodingKeys.id], expected: "an id in 0...\(Tokenizer.maxTokenId) (treerpo's limit)", found: "\(id)")
        }
    }
}

/// Reads `"type"` and rejects anything not in `supported`.
private func componentType(_ decoder: Decoder, supported: [String]) throws -> String {
    let c = try decoder.container(keyedBy: NamedKey.self)
    let type = try c.decode(String.self, forKey: NamedKey("type"))
    guard supported.contains(type) else {
        throw FieldError(c.codingPath + [NamedKey("type")],
                         expected: "one of \(supported.map { "\"\($0)\"" }.joined(separator: ", "))",
                         found: "\"\(type)\" (not supported)")
    }
    return type
}

indirect enum NormalizerConfig: Decodable {
    case nfc, nfd, nfkc, nfkd
    case sequence([NormalizerConfig])

    init(from decoder: Decoder) throws {
        switch try componentType(decoder, supported: ["NFC", "NFD", "NFKC", "NFKD", "Sequence"]) {
        case "NFC": self = .nfc
        case "NFD": self = .nfd
        case "NFKC": self = .nfkc
        case "NFKD": self = .nfkd
        default:
            let c = try decoder.container(keyedBy: NamedKey.self)
            self = .sequence(try c.decode([NormalizerConfig].self, forKey: NamedKey("normalizers")))
        }
    }
}

indirect enum PreTokenizerConfig: Decodable {
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    case split(SplitPattern)
    /// `{"type": "Digits", "individual_digits": true}` (SmolLM2, StarCoder).
    case digits(individual: Bool)
    case sequence([PreTokenizerConfig])

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: NamedKey.self)
        switch try componentType(decoder, supported: ["ByteLevel", "Split", "Digits", "Sequence"]) {
        case "ByteLevel":
            self = .byteLevel(
                addPrefixSpace: try c.decodeIfPresent(Bool.self, forKey: NamedKey("add_prefix_space")) ?? true,
                useRegex: try c.decodeIfPresent(Bool.self, forKey: NamedKey("use_regex")) ?? true)
        case "Split":
            self = .split(try SplitPattern(splitConfig: c))
        case "Digits":
            self = .digits(individual: try c.decodeIfPresent(Bool.self, forKey: NamedKey("individual_digits")) ?? false)
        default:
            self = .sequence(try c.decode([PreTokenizerConfig].self, forKey: NamedKey("pretokenizers")))
        }
    }
}

extension SplitPattern {
    /// `{"type": "Split", "pattern": {"Regex": "..."}, "behavior": "Isolated", "invert": false}`.
    init(splitConfig c: KeyedDecodingContainer<NamedKey>) throws {
        let patternBox = try c.nestedContainer(keyedBy: NamedKey.self, forKey: NamedKey("pattern"))
        let path = c.codingPath + [NamedKey("pattern")]
        guard let regex = try patternBox.decodeIfPresent(String.self, forKey: NamedKey("Regex")) else {
            let found = patternBox.allKeys.map(\.stringValue).joined(separator: ", ")
            throw FieldError(path, expected: "a {\"Regex\": ...} pattern", found: "{\(found)}")
        }
        guard let known = SplitPattern(regex: regex) else {
            throw FieldError(path + [NamedKey("Regex")],
                             expected: "the GPT-2, Qwen2 or Llama-3 pre-tokenizer pattern", found: "\"\(regex)\"")
        }
        let behavior = try c.decodeIfPresent(String.self, forKey: NamedKey("behavior")) ?? "Isolated"
        guard behavior == "Isolated" else {
            throw FieldError(c.codingPath + [NamedKey("behavior")], expected: "\"Isolated\"", found: "\"\(behavior)\"")
        }
        if try c.decodeIfPresent(Bool.self, forKey: NamedKey("invert")) == true {
            throw FieldError(c.codingPath + [NamedKey("invert")], expected: "false", found: "true")
        }
        self = known
    }
}

indirect enum PostProcessorConfig: Decodable {
    case byteLevel
    /// `single` template: special-token ids and `$A` (nil) in order.
    case template(single: [[Int]?])
    case sequence([PostProcessorConfig])

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: NamedKey.self)
        switch try componentType(decoder, supported: ["ByteLevel", "TemplateProcessing", "Sequence"]) {
        case "ByteLevel":
            self = .byteLevel
        case "TemplateProcessing":
            self = .template(single: try PostProcessorConfig.singleTemplate(c))
        default:
            self = .sequence(try c.decode([PostProcessorConfig].self, forKey: NamedKey("processors")))
        }
    }

    private struct Piece: Decodable {
        struct Ref: Decodable { var id: String }
        var SpecialToken: Ref?
        var Sequence: Ref?
    }

    private struct SpecialToken: Decodable { var ids: [Int] }

    private static func singleTemplate(_ c: KeyedDecodingContainer<NamedKey>) throws -> [[Int]?] {
        let pieces = try c.decode([Piece].self, forKey: NamedKey("single"))
        let specials = try c.decodeIfPresent([String: SpecialToken].self, forKey: NamedKey("special_tokens")) ?? [:]
        return try pieces.enumerated().map { index, piece in
            let path = c.codingPath + [NamedKey("single"), IndexKey(index)]
            if let ref = piece.SpecialToken {
                guard let token = specials[ref.id] else {
                    throw FieldError(path, expected: "a token listed in special_tokens", found: "\"\(ref.id)\"")
                }
                return token.ids
            }
            if piece.Sequence != nil { return nil }
            throw FieldError(path, expected: "a SpecialToken or Sequence piece", found: "neither")
        }
    }
}

struct IndexKey: CodingKey {
    var intValue: Int?
    var stringValue: String { "\(intValue ?? 0)" }
    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { return nil }
    init?(intValue: Int) { self.intValue = intValue }
}

indirect enum DecoderConfig: Decodable {
    case byteLevel
    case sequence([DecoderConfig])

    init(from decoder: Decoder) throws {
        switch try componentType(decoder, supported: ["ByteLevel", "Sequence"]) {
        case "ByteLevel":
            self = .byteLevel
        default:
            let c = try decoder.container(keyedBy: NamedKey.self)
            self = .sequence(try c.decode([DecoderConfig].self, forKey: NamedKey("decoders")))
        }
    }
}

/// `model`: `{"type": "BPE", "vocab": {token: id}, "merges": ["a b", ...] or [["a", "b"], ...], ...}`.
struct BPEConfig: Decodable {
    var vocab: [String: Int]
    /// Each merge as its two parts, in rank order.
    var merges: [(String, String)]
    var unkToken: String?
    var fuseUnk: Bool
    var byteFallback: Bool
    var ignoreMerges: Bool

    enum CodingKeys: String, CodingKey {
        case type, vocab, merges, dropout, unkToken = "unk_token", fuseUnk = "fuse_unk"
        case byteFallback = "byte_fallback", ignoreMerges = "ignore_merges"
        case continuingSubwordPrefix = "continuing_subword_prefix", endOfWordSuffix = "end_of_word_suffix"
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        // Files from old library versions omit `type`; vocab + merges then means BPE.
        if let type = try c.decodeIfPresent(String.self, forKey: .type), type != "BPE" {
            throw FieldError(c.codingPath + [CodingKeys.type], expected: "\"BPE\"", found: "\"\(type)\" (not supported)")
        }
        vocab = try c.decode([String: Int].self, forKey: .vocab)
        merges = try BPEConfig.decodeMerges(c)
        unkToken = try c.decodeIfPresent(String.self, forKey: .unkToken)
        fuseUnk = try c.decodeIfPresent(Bool.self, forKey: .fuseUnk) ?? false
        byteFallback = try c.decodeIfPresent(Bool.self, forKey: .byteFallback) ?? false
        ignoreMerges = try c.decodeIfPresent(Bool.self, forKey: .ignoreMerges) ?? false
        if let dropout = try c.decodeIfPresent(Double.self, forKey: .dropout), dropout > 0 {
            throw FieldError(c.codingPath + [CodingKeys.dropout], expected: "null or 0 (deterministic encoding)",
                             found: "\(dropout)")
        }
        for key in [CodingKeys.continuingSubwordPrefix, .endOfWordSuffix] {
            if let value = try c.decodeIfPresent(String.self, forKey: key), !value.isEmpty {
                throw FieldError(c.codingPath + [key], expected: "null (not supported)", found: "\"\(value)\"")
            }
        }
    }

    private static func decodeMerges(_ c: KeyedDecodingContainer<CodingKeys>) throws -> [(String, String)] {
        try c.decode([MergeEntry].self, forKey: .merges).map { ($0.left, $0.right) }
    }
}

/// One merge in either format, chosen per entry as the library does: `"a b"` (exactly one space)
/// or `["a", "b"]`.
private struct MergeEntry: Decodable {
    var left: String
    var right: String

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let line = try? c.decode(String.self) {
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw FieldError(decoder.codingPath, expected: "two tokens separated by one space", found: "\"\(line)\"")
            }
            left = String(parts[0])
            right = String(parts[1])
        } else if let pair = try? c.decode([String].self) {
            guard pair.count == 2 else {
                throw FieldError(decoder.codingPath, expected: "a pair of two tokens", found: "\(pair.count) strings")
            }
            left = pair[0]
            right = pair[1]
        } else {
            throw FieldError(decoder.codingPath, expected: "a string \"a b\" or a pair [\"a\", \"b\"]",
                             found: "another JSON value")
        }
    }
}
