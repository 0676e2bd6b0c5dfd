import Foundation
import Testing
@testable import Tokenization

/// Bad files fail with a `TokenizerError` naming the field, never a crash.
@Suite struct ErrorTests {
    /// A minimal valid file with `model` (and optionally other top-level fields) replaced.
    func file(model: String = #"{"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}"#,
              extra: String = "") -> Data {
        Data(#"{"added_tokens": [], \#(extra) "model": \#(model)}"#.utf8)
    }

    func loadError(_ data: Data) -> TokenizerError? {
        do {
            _ = try Tokenizer(json: data, fileName: "bad/tokenizer.json")
            return nil
        } catch let error as TokenizerError {
            return error
        } catch {
            Issue.record("not a TokenizerError: \(error)")
            return nil
        }
    }

    @Test func minimalFileLoads() throws {
        let tokenizer = try Tokenizer(json: file())
        #expect(tokenizer.encode("abba") == [2, 1, 0])
        #expect(tokenizer.decode([2, 1, 0]) == "ab b a")  // no decoder: tokens joined with spaces
    }

    @Test func notJSON() throws {
        let error = try #require(loadError(Data("this is not json {".utf8)))
        #expect(error.file == "bad/tokenizer.json")
        #expect(error.field == "(root)")
        #expect(error.description.contains("valid JSON"))
    }

    @Test func unsupportedModelType() throws {
        let error = try #require(loadError(file(model: #"{"type": "Unigram", "vocab": [["a", 0.0]]}"#)))
        #expect(error.field == "model.type")
        #expect(error.found.contains("Unigram"))
        #expect(error.description.contains("bad/tokenizer.json"))
    }

    @Test func missingMerges() throws {
        let error = try #require(loadError(file(model: #"{"type": "BPE", "vocab": {"a": 0}}"#)))
        #expect(error.field == "model.merges")
    }

    @Test func missingVocab() throws {
        let error = try #require(loadError(file(model: #"{"type": "BPE", "merges": []}"#)))
        #expect(error.field == "model.vocab")
    }

    @Test func mergePartNotInVocabulary() throws {
        let error = try #require(loadError(file(model: #"{"type": "BPE", "vocab": {"a": 0, "ab": 2}, "merges": [["a", "b"]]}"#)))
        #expect(error.field == "model.merges[0]")
        #expect(error.found.contains("\"b\""))
    }

    @Test func mergedTokenNotInVocabulary() throws {
        let error = try #require(loadError(file(model: #"{"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}"#)))
        #expect(error.field == "model.merges[0]")
        #expect(error.expected.contains("\"ab\""))
    }

    @Test func malformedMergeString() throws {
        let error = try #require(loadError(file(model: #"{"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b", "ab"]}"#)))
        #expect(error.field == "model.merges[1]")
    }

    @Test func wrongValueType() throws {
        let error = try #require(loadError(file(model: #"{"type": "BPE", "vocab": {"a": "zero"}, "merges": []}"#)))
        #expect(error.field.hasPrefix("model.vocab"))
    }

    @Test func unsupportedPreTokenizer() throws {
        let extra = #""pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Whitespace"}]},"#
        let error = try #require(loadError(file(extra: extra)))
        #expect(error.field == "pre_tokenizer.pretokenizers[0].type")
        #expect(error.found.contains("Whitespace"))
    }

    @Test func unknownSplitPattern() throws {
        let extra = #""pre_tokenizer": {"type": "Split", "pattern": {"Regex": "\\w+"}, "behavior": "Isolated", "invert": false},"#
        let error = try #require(loadError(file(extra: extra)))
        #expect(error.field == "pre_tokenizer.pattern.Regex")
    }

    @Test func unsupportedNormalizer() throws {
        let error = try #require(loadError(file(extra: #""normalizer": {"type": "Lowercase"},"#)))
        #expect(error.field == "normalizer.type")
    }

    @Test func unreadableFile() throws {
        let url = URL(fileURLWithPath: "/nonexistent/dir/tokenizer.json")
        #expect(throws: TokenizerError.self) { try Tokenizer(contentsOf: url) }
    }
}

/// Ids far beyond any real vocabulary are refused before anything is sized by them (an id of
/// 2^31, 2^40 or 2^62 used to size the id -> token table and crash the import).
@Suite struct HugeIdTests {
    static let ids: [Int64] = [1 << 24, 1 << 31, 1 << 40, 1 << 62]

    func error(_ json: String) -> TokenizerError? {
        do {
            _ = try Tokenizer(json: Data(json.utf8), fileName: "bad/tokenizer.json")
            return nil
        } catch let error as TokenizerError {
            return error
        } catch {
            Issue.record("not a TokenizerError: \(error)")
            return nil
        }
    }

    @Test(arguments: ids)
    func vocabularyIdAboveTheLimitIsRefused(id: Int64) throws {
        let e = try #require(error(#"{"added_tokens": [], "model": {"type": "BPE", "vocab": {"a": 0, "b": \#(id)}, "merges": []}}"#))
        #expect(e.field == "model.vocab")
        #expect(e.description.contains("\(id)") && e.description.contains("\(Tokenizer.maxTokenId)"))
    }

    @Test(arguments: ids)
    func addedTokenIdAboveTheLimitIsRefused(id: Int64) throws {
        let e = try #require(error(#"{"added_tokens": [{"id": \#(id), "content": "<x>", "special": true}], "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}"#))
        #expect(e.field.hasPrefix("added_tokens"))
        #expect(e.description.contains("\(id)") && e.description.contains("\(Tokenizer.maxTokenId)"))
    }
}
