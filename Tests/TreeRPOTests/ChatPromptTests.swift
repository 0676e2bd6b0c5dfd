import Foundation
import Testing
import ModelIO
import Transformer
@testable import TreeRPO

/// `--chat-template auto|none|FILE` through the library: the prompts finetune (Trainer.loadData)
/// and eval (PromptTemplate.promptTokens, which Evaluation.run uses) build for a question.
@Suite struct ChatPromptTests {
    /// SmolLM2-135M-Instruct's chat template, as its GGUF carries it.
    static let smolLM2 = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    /// What transformers' apply_chat_template(..., tokenize=False, add_generation_prompt=True) renders
    /// for the question "What is 12 + 30?" (Tests/ChatTemplatesTests/Fixtures/chat_templates.json).
    static let expected = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nWhat is 12 + 30?<|im_end|>\n<|im_start|>assistant\n"

    static func writeConfig(_ base: URL, template: String?) throws {
        var config: [String: Any] = ["bos_token": "<|im_start|>", "eos_token": ["content": "<|im_end|>", "special": true]]
        if let template { config["chat_template"] = template }
        try JSONSerialization.data(withJSONObject: config).write(to: base.appendingPathComponent("tokenizer_config.json"))
    }

    static func base() throws -> URL {
        let base = try BundledModel.temporaryFolder().appendingPathComponent("base")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        return base
    }

    @Test func finetuneAndEvalPromptsAreTheRenderedChatTemplate() throws {
        let folder = try BundledModel.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let ws = try BundledModel.workspace(in: folder)
        try Self.writeConfig(ws.base, template: Self.smolLM2)
        let tokenizer = try WorkspaceModel.load(ws).tokenizer

        for choice in [nil, "auto"] {
            var c = BundledModel.smallConfig(steps: 1)
            c.chatTemplate = choice
            let data = try Trainer.loadData(c, base: ws.base)
            #expect(try data.template.renderChecked(question: "What is 12 + 30?") == Self.expected)
            #expect(data.template.chat?.origin.hasSuffix("tokenizer_config.json (chat_template)") == true)
            #expect(!data.template.addSpecialTokens)
            #expect(try data.template.promptTokens(question: "What is 12 + 30?", tokenizer: tokenizer)
                    == tokenizer.encode(Self.expected, addSpecialTokens: false))
        }
        // The eval command's resolution gives the same prompt.
        let eval = try #require(try PromptTemplate.resolve(promptTemplate: nil, chatTemplate: nil, base: ws.base))
        #expect(try eval.renderChecked(question: "What is 12 + 30?") == Self.expected)
        #expect(eval.summary.contains("chat template from"))
    }

    @Test func noneAndPromptTemplateKeepThePlainPrompt() throws {
        let base = try Self.base()
        try Self.writeConfig(base, template: Self.smolLM2)
        var c = TrainingConfig()
        c.chatTemplate = "none"
        #expect(try Trainer.loadData(c, base: base).template == .arithmetic)
        c.chatTemplate = nil
        c.promptTemplate = "Q: {question}\nA:"
        let t = try Trainer.loadData(c, base: base).template
        #expect(t.chat == nil && t.addSpecialTokens && t.render(question: "x") == "Q: x\nA:")
        c.chatTemplate = "auto"
        #expect(c.validationErrors().contains { $0.contains("exclude each other") })
        #expect(throws: DatasetError.self) { try Trainer.loadData(c, base: base) }
    }

    @Test func autoWithoutTemplateDefaultsToNoneAndExplicitAutoFails() throws {
        let base = try Self.base()
        try Self.writeConfig(base, template: nil)
        #expect(try PromptTemplate.resolve(promptTemplate: nil, chatTemplate: nil, base: base) == nil)
        do {
            _ = try PromptTemplate.resolve(promptTemplate: nil, chatTemplate: "auto", base: base)
            Issue.record("auto without a template should fail")
        } catch {
            #expect("\(error)".contains("tokenizer_config.json") && "\(error)".contains("no chat template"))
        }
    }

    @Test func fileTemplateGetsTheWorkspaceSpecialTokensAndUnsupportedIsRefused() throws {
        let base = try Self.base()
        try Self.writeConfig(base, template: Self.smolLM2)
        let file = base.deletingLastPathComponent().appendingPathComponent("mine.jinja")
        try "{{ bos_token }}[{{ messages[0].content|trim }}]{% if add_generation_prompt %}{{ eos_token }}>{% endif %}\n"
            .write(to: file, atomically: true, encoding: .utf8)
        let t = try #require(try PromptTemplate.resolve(promptTemplate: nil, chatTemplate: file.path, base: base))
        #expect(try t.renderChecked(question: " q ") == "<|im_start|>[q]<|im_end|>>")

        try "{% macro m() %}{% endmacro %}{{ messages[0].content }}".write(to: file, atomically: true, encoding: .utf8)
        do {
            _ = try PromptTemplate.resolve(promptTemplate: nil, chatTemplate: file.path, base: base)
            Issue.record("a macro should be refused")
        } catch {
            #expect("\(error)".contains("mine.jinja:1:4") && "\(error)".contains("'{% macro %}'"), "\(error)")
        }
    }
}
