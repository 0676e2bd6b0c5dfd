import Foundation
import Testing
import ModelFiles
import Tokenization

/// The tokenizer.json rebuilt from a GGUF's tokenizer.ggml.* (a 700-token byte-level BPE with
/// tokenizer.ggml.pre = "smollm", Fixtures/gguf-tokenizer/ from
/// tools/make_gguf_tokenizer_fixture.py) gives the ids of the `tokenizers` library with SmolLM's
/// split (digits one by one, then GPT-2's) on 242 golden texts, many with numbers; the special
/// token stays whole and the chat template is kept.
@Suite struct GGUFTokenizerTests {
    static let folder = FixtureModels.root.deletingLastPathComponent().appendingPathComponent("gguf-tokenizer")
    static let regenerate = "regenerate with: .venv-tools/bin/python tools/make_gguf_tokenizer_fixture.py"

    @Test func rebuiltTokenizerGivesTheTokenizersLibrarysIds() throws {
        let file = try GGUFFile(contentsOf: Self.folder.appendingPathComponent("gguf-tokenizer.gguf"))
        let built = try #require(try GGUFTokenizer.build(file))
        #expect(built.tokenCount == 700)
        let tokenizer = try Tokenizer(json: built.tokenizerJSON)
        let golden = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.folder.appendingPathComponent("gguf-tokenizer.golden.json"))) as! [String: Any]
        let cases = golden["cases"] as! [[String: Any]]
        #expect(cases.count == 242, "\(Self.regenerate)")
        var mismatches: [String] = []
        var digitTexts = 0
        for c in cases {
            let text = c["text"] as! String
            let expected = (c["ids"] as! [NSNumber]).map(\.intValue)
            if text.unicodeScalars.contains(where: { $0.properties.numericType != nil }) { digitTexts += 1 }
            let ours = tokenizer.encode(text)
            if ours != expected { mismatches.append("'\(text.prefix(40))': \(ours.prefix(16)) vs \(expected.prefix(16))") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) texts differ from tokenizers, e.g. \(mismatches.prefix(3))")
        #expect(digitTexts >= 3, "the golden texts must exercise the digit split")
        #expect(tokenizer.encode("<|endoftext|>12") == [0] + tokenizer.encode("1") + tokenizer.encode("2"))
        let config = try JSONSerialization.jsonObject(with: built.tokenizerConfigJSON) as! [String: Any]
        #expect(config["chat_template"] as? String == golden["template"] as? String)
        #expect(config["eos_token"] as? String == "<|endoftext|>")
    }
}
