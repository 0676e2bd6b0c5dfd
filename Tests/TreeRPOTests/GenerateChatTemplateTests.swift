import Foundation
import Testing
import TestSupport
import ModelIO
import Sampling
import Transformer
@testable import TreeRPO

/// `treerpo generate --chat-template auto|none|FILE`, driven as a user would on the bundled model
/// with SmolLM2's template in its tokenizer_config.json: the prompt the model gets is the
/// rendered template (as transformers' apply_chat_template renders it), encoded without the
/// tokenizer's own special tokens; none keeps the prompt as is; auto without a template fails.
@Suite struct GenerateChatTemplateTests {
    typealias Outcome = TreerpoProgram.Outcome

    static func generate(_ ws: URL, _ extra: [String]) throws -> Outcome {
        try TreerpoProgram.run(["generate", "--workspace", ws.path, "--prompt", "What is 12 + 30?", "--greedy",
                                    "--max-tokens", "6", "--json", "--threads", "1"] + extra)
    }

    static func ids(_ o: Outcome) -> [Int] {
        o.stdout.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["id"] as? Int
        }
    }

    @Test func thePromptIsTheRenderedChatTemplate() throws {
        let folder = try BundledModel.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let ws = try BundledModel.workspace(in: folder)
        try ChatPromptTests.writeConfig(ws.base, template: ChatPromptTests.smolLM2)
        let (model, tokenizer) = (try TransformerModel(folder: ws.base), try WorkspaceModel.load(ws).tokenizer)
        // Greedy ids of the library's generator on a prompt, as generate feeds it.
        func greedy(_ prompt: [Int]) throws -> [Int] {
            let options = GenerationOptions(maxNewTokens: 6, stopTokens: Set(model.config.eosTokenIds))
            return try Generator(model: model).generate(prompts: [prompt], options: options)[0].tokens.map(\.id)
        }
        let chatIds = tokenizer.encode(ChatPromptTests.expected, addSpecialTokens: false)
        let plainIds = tokenizer.encode("What is 12 + 30?", addSpecialTokens: true)

        for choice in [[], ["--chat-template", "auto"]] {
            let o = try Self.generate(ws.root, choice)
            #expect(o.status == 0, "\(choice): \(o.stderr)")
            #expect(o.stderr.contains("chat template from") && o.stderr.contains("prompt (\(chatIds.count) tokens): \(ChatPromptTests.expected.debugDescription)"), "\(choice): \(o.stderr)")
            #expect(Self.ids(o) == (try greedy(chatIds)), "\(choice): generated ids are not the greedy continuation of the chat prompt")
        }
        let none = try Self.generate(ws.root, ["--chat-template", "none"])
        #expect(none.status == 0 && !none.stderr.contains("chat template"), "\(none.stderr)")
        #expect(Self.ids(none) == (try greedy(plainIds)))
        #expect(try greedy(plainIds) != (try greedy(chatIds)), "the two prompts give the same tokens: the test cannot tell them apart")

        let file = folder.appendingPathComponent("mine.jinja")
        try "[{{ messages[0].content }}]{% if add_generation_prompt %}{{ eos_token }}{% endif %}".write(to: file, atomically: true, encoding: .utf8)
        let fromFile = try Self.generate(ws.root, ["--chat-template", file.path])
        #expect(fromFile.status == 0 && fromFile.stderr.contains("prompt (") && fromFile.stderr.contains("\"[What is 12 + 30?]<|im_end|>\""), "\(fromFile.stderr)")
        #expect(Self.ids(fromFile) == (try greedy(tokenizer.encode("[What is 12 + 30?]<|im_end|>", addSpecialTokens: false))))

        try ChatPromptTests.writeConfig(ws.base, template: nil)
        let missing = try Self.generate(ws.root, ["--chat-template", "auto"])
        ExitStatusTests.expectPlain(missing, status: 1, mentions: ["tokenizer_config.json", "no chat template"])
    }
}
