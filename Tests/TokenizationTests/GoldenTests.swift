import Foundation
import Testing
@testable import Tokenization

/// Golden files written by the Hugging Face `tokenizers` library (see tools/make_tokenizer_fixtures.py).
struct Golden: Decodable {
    struct Case: Decodable {
        var text: String
        var ids: [Int]
        var ids_with_special: [Int]
        var decoded: String
        var decoded_skip_special: String
        var pretokens: [String]
    }
    var tokenizer: String
    var library: String
    var vocab_size: Int
    var cases: [Case]
}

let regenerate = "regenerate with: python tools/make_tokenizer_fixtures.py"
let fixtureNames = ["gpt2", "gpt2_prefix", "qwen2", "llama3"]

func fixtureURL(_ name: String) throws -> URL {
    try #require(Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures"),
                 "missing fixture \(name).json; \(regenerate)")
}

func loadFixture(_ name: String) throws -> (Tokenizer, Golden) {
    let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: fixtureURL("\(name).golden")))
    let tokenizer = try Tokenizer(contentsOf: fixtureURL("\(name).tokenizer"))
    return (tokenizer, golden)
}

@Suite struct GoldenTests {
    @Test(arguments: fixtureNames)
    func idsMatchReference(name: String) throws {
        let (tokenizer, golden) = try loadFixture(name)
        #expect(golden.cases.count >= 60)
        for c in golden.cases {
            let plain = tokenizer.encode(c.text, addSpecialTokens: false)
            #expect(plain == c.ids, """
                \(name): encode(\(c.text.debugDescription), addSpecialTokens: false)
                  swift:     \(plain)
                  reference: \(c.ids)
                \(regenerate)
                """)
            let full = tokenizer.encode(c.text)
            #expect(full == c.ids_with_special, """
                \(name): encode(\(c.text.debugDescription))
                  swift:     \(full)
                  reference: \(c.ids_with_special)
                \(regenerate)
                """)
        }
    }

    /// Catches a wrong split even where no merge crosses it (which the ids alone would not show).
    @Test(arguments: fixtureNames)
    func preTokensMatchReference(name: String) throws {
        let (tokenizer, golden) = try loadFixture(name)
        for c in golden.cases {
            let words = tokenizer.preTokenize(c.text)
            #expect(words == c.pretokens, """
                \(name): pre-tokenize(\(c.text.debugDescription))
                  swift:     \(words)
                  reference: \(c.pretokens)
                \(regenerate)
                """)
        }
    }

    @Test(arguments: fixtureNames)
    func decodeMatchesReference(name: String) throws {
        let (tokenizer, golden) = try loadFixture(name)
        for c in golden.cases {
            let decoded = tokenizer.decode(c.ids_with_special)
            #expect(decoded == c.decoded, """
                \(name): decode(\(c.ids_with_special)) of \(c.text.debugDescription)
                  swift:     \(decoded.debugDescription)
                  reference: \(c.decoded.debugDescription)
                \(regenerate)
                """)
            let skipped = tokenizer.decode(c.ids_with_special, skipSpecialTokens: true)
            #expect(skipped == c.decoded_skip_special, """
                \(name): decode(\(c.ids_with_special), skipSpecialTokens: true) of \(c.text.debugDescription)
                  swift:     \(skipped.debugDescription)
                  reference: \(c.decoded_skip_special.debugDescription)
                \(regenerate)
                """)
        }
    }

    @Test(arguments: fixtureNames)
    func vocabularySizeMatchesReference(name: String) throws {
        let (tokenizer, golden) = try loadFixture(name)
        #expect(tokenizer.vocabularySize == golden.vocab_size, "\(name): \(regenerate)")
    }

    @Test func tokenLookup() throws {
        let (tokenizer, _) = try loadFixture("qwen2")
        let imEnd = try #require(tokenizer.id(of: "<|im_end|>"))
        #expect(tokenizer.token(of: imEnd) == "<|im_end|>")
        #expect(tokenizer.specialTokenIds.contains(imEnd))
        #expect(tokenizer.id(of: "Ġ") != nil)
        #expect(tokenizer.id(of: "no such token at all") == nil)
        #expect(tokenizer.decode([-1, 1_000_000]) == "")
    }

    /// The locked BPE cache: tasks encoding at once get the same ids as one after another.
    @Test func concurrentEncodingAgrees() async throws {
        let (tokenizer, golden) = try loadFixture("llama3")
        let texts = golden.cases.map(\.text)
        let expected = texts.map { tokenizer.encode($0) }
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<8 {
                group.addTask { texts.map { tokenizer.encode($0) } == expected }
            }
            for try await same in group { #expect(same) }
        }
    }
}
