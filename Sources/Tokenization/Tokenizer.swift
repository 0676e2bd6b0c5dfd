import Foundation

/// A Hugging Face `tokenizer.json` byte-level BPE tokenizer (GPT-2, Qwen2, Llama-3 style) giving the
/// same ids as the `tokenizers` library.
///
/// Pipeline of `encode`: added tokens split out of the raw text -> normalizer -> added tokens with
/// `normalized: true` split out -> pre-tokenizer (regex split, byte-level mapping) -> BPE per word
/// -> post-processor (when `addSpecialTokens`).
///
/// Immutable after `init` except the BPE word cache, which is locked, so one instance can be shared
/// across threads.
public final class Tokenizer: Sendable {
    private let rawMatcher: AddedTokenMatcher
    private let normalizedMatcher: AddedTokenMatcher
    private let normalizer: Normalizer?
    private let preTokenizer: PreTokenizer?
    private let model: BPEModel
    private let postProcessor: PostProcessor
    private let decoder: TokenDecoder
    /// Added tokens by content and by id; they take precedence over the model's vocabulary.
    private let addedIds: [String: Int]
    private let addedTokens: [Int: String]
    /// Ids of added tokens marked `special`.
    public let specialTokenIds: Set<Int>
    /// Per id: the bytes `decode` emits, nil for unused ids.
    private let decodeBytes: [[UInt8]?]

    /// Number of distinct ids: the model's vocabulary plus added tokens not in it.
    public let vocabularySize: Int
    /// The largest token id a file may use: 16,777,215, far above any real vocabulary (the largest
    /// common ones hold 256,000 tokens), so that tables sized by the largest id stay small.
    public static let maxTokenId = (1 << 24) - 1

    public convenience init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw TokenizerError(file: url.path, field: "(root)", expected: "a readable file", found: "\(error)")
        }
        try self.init(json: data, fileName: url.path)
    }

    /// `fileName` only names the source in errors.
    public init(json: Data, fileName: String = "tokenizer.json") throws {
        do {
            let file = try JSONDecoder().decode(TokenizerFile.self, from: json)
            model = try BPEModel(file.model)
            normalizer = file.normalizer.map(Normalizer.init)
            preTokenizer = file.preTokenizer.map(PreTokenizer.init)
            postProcessor = PostProcessor(file.postProcessor)
            decoder = TokenDecoder(file.decoder)

            var raw = AddedTokenMatcher()
            var normalized = AddedTokenMatcher()
            var addedIds: [String: Int] = [:]
            var addedTokens: [Int: String] = [:]
            var special = Set<Int>()
            for (index, token) in file.addedTokens.enumerated() {
                if token.content.isEmpty {
                    throw FieldError(field: "added_tokens[\(index)].content", expected: "a non-empty string", found: "\"\"")
                }
                let entry = AddedTokenMatcher.Token(id: token.id, singleWord: token.singleWord,
                                                    lstrip: token.lstrip, rstrip: token.rstrip)
                if token.normalized {
                    normalized.insert(normalizer?.apply(token.content) ?? token.content, entry)
                } else {
                    raw.insert(token.content, entry)
                }
                addedIds[token.content] = token.id
                addedTokens[token.id] = token.content
                if token.special { special.insert(token.id) }
            }
            rawMatcher = raw
            normalizedMatcher = normalized
            self.addedIds = addedIds
            self.addedTokens = addedTokens
            specialTokenIds = special

            let count = max(model.idToToken.count, (addedTokens.keys.max() ?? -1) + 1)
            var bytes = [[UInt8]?](repeating: nil, count: count)
            for (id, token) in model.idToToken.enumerated() {
                if let token { bytes[id] = decoder.bytes(of: token) }
            }
            for (id, token) in addedTokens { bytes[id] = decoder.bytes(of: token) }
            decodeBytes = bytes
            vocabularySize = Set(model.vocab.values).union(addedTokens.keys).count
        } catch {
            throw TokenizerError.wrap(error, file: fileName)
        }
    }

    /// Token ids of `text`; `addSpecialTokens` applies the post-processor (e.g. Llama-3's BOS), as the
    /// library's `encode` does by default.
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int] {
        var ids: [Int] = []
        ids.reserveCapacity(text.utf8.count / 3 + 4)
        let utf8 = Array(text.utf8)
        utf8.withUnsafeBufferPointer { bytes in
            for piece in rawMatcher.split(bytes) {
                if let id = piece.id {
                    ids.append(id)
                    continue
                }
                var segment = String(decoding: UnsafeBufferPointer(rebasing: bytes[piece.range]), as: UTF8.self)
                if let normalizer { segment = normalizer.apply(segment) }
                if normalizedMatcher.isEmpty {
                    encodePlain(segment, into: &ids)
                } else {
                    let normalizedBytes = Array(segment.utf8)
                    normalizedBytes.withUnsafeBufferPointer { nbytes in
                        for inner in normalizedMatcher.split(nbytes) {
                            if let id = inner.id {
                                ids.append(id)
                            } else {
                                let text = String(decoding: UnsafeBufferPointer(rebasing: nbytes[inner.range]), as: UTF8.self)
                                encodePlain(text, into: &ids)
                            }
                        }
                    }
                }
            }
        }
        return addSpecialTokens ? postProcessor.apply(ids) : ids
    }

    /// Normalized text without added tokens -> words -> BPE ids.
    private func encodePlain(_ text: String, into ids: inout [Int]) {
        let scalars = Array(text.unicodeScalars)
        var words: [ArraySlice<Unicode.Scalar>] = scalars.isEmpty ? [] : [scalars[...]]
        preTokenizer?.apply(&words)
        for word in words where !word.isEmpty { model.encode(word, into: &ids) }
    }

    /// Words from the normalizer and pre-tokenizer alone (added tokens not split out), as strings in
    /// the form the model sees; for tests against the library's `pre_tokenize_str`.
    func preTokenize(_ text: String) -> [String] {
        let normalized = normalizer?.apply(text) ?? text
        let scalars = Array(normalized.unicodeScalars)
        var words: [ArraySlice<Unicode.Scalar>] = scalars.isEmpty ? [] : [scalars[...]]
        preTokenizer?.apply(&words)
        return words.map { String(String.UnicodeScalarView($0)) }
    }

    /// Text of `ids`; unknown ids are skipped, as are added tokens marked special when `skipSpecialTokens`.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) -> String {
        var bytes: [UInt8] = []
        var first = true
        for id in ids {
            guard id >= 0, id < decodeBytes.count, let tokenBytes = decodeBytes[id] else { continue }
            if skipSpecialTokens && specialTokenIds.contains(id) { continue }
            if !first { bytes.append(contentsOf: decoder.separator) }
            bytes.append(contentsOf: tokenBytes)
            first = false
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The id of a token string (added tokens first, then the model's vocabulary).
    public func id(of token: String) -> Int? {
        addedIds[token] ?? model.vocab[token]
    }

    /// The token string of an id, in its vocabulary form (byte-level code points for model tokens).
    public func token(of id: Int) -> String? {
        if let added = addedTokens[id] { return added }
        guard id >= 0, id < model.idToToken.count else { return nil }
        return model.idToToken[id]
    }
}
