import ChatTemplates
import Foundation
import Transformer
import Sampling
import Tokenization

/// Turns a question into the prompt text the model sees. The template holds `{question}` once
/// or more; everything else is copied verbatim (chat markers, an instruction, "Answer:").
/// A chat prompt (`PromptTemplate.chat`) instead renders the question as the one user message
/// through the model's Jinja chat template, with the generation prompt added.
public struct PromptTemplate: Equatable, Sendable, Codable {
    public static let placeholder = "{question}"

    public let text: String
    /// Set for a chat prompt: the Jinja template, where it came from and the special tokens
    /// (`bos_token`, ...) it sees.
    public private(set) var chat: ChatPromptSpec? = nil

    /// `source` names where the template came from (a file, a flag) for the error message.
    public init(_ text: String, source: String = "prompt template", setting: Setting? = nil) throws {
        guard text.contains(Self.placeholder) else {
            throw DatasetError(file: source, line: nil, field: nil,
                               message: "expected the placeholder \(Self.placeholder), found none in \(text.prefix(80).debugDescription)",
                               setting: setting)
        }
        self.text = text
    }

    private init(unchecked text: String) { self.text = text }

    /// The question as is.
    public static let plain = PromptTemplate(unchecked: placeholder)

    /// The prompt the bundled arithmetic model was pretrained on: question, newline, solution.
    public static let arithmetic = PromptTemplate(unchecked: "Question: {question}\nAnswer:\n")

    /// Whether the prompt's tokens get the tokenizer's special tokens (BOS...) when encoded: not
    /// for a chat prompt, whose template already writes them (as apply_chat_template does).
    public var addSpecialTokens: Bool { chat == nil }

    /// The prompt for `question`. A chat template that fails (raise_exception, an unsupported
    /// construct reached only now) stops with its error: never a different prompt.
    public func render(question: String) -> String {
        do { return try renderChecked(question: question) } catch { fatalError("\(error)") }
    }

    /// The prompt's token ids, as finetune, eval and sample feed them to the model.
    public func promptTokens(question: String, tokenizer: Tokenizer) throws -> [Int] {
        tokenizer.encode(try renderChecked(question: question), addSpecialTokens: addSpecialTokens)
    }

    public func renderChecked(question: String) throws -> String {
        guard let chat else { return text.replacingOccurrences(of: Self.placeholder, with: question) }
        return try chat.render(question: question)
    }

    /// The prompt format of `--prompt-template TEXT` and `--chat-template auto|none|FILE` for
    /// the workspace's model in `base`; nil when neither applies (the caller's default). Without
    /// `--chat-template`, a workspace whose model has a chat template gets it, unless
    /// `--prompt-template` is given.
    public static func resolve(promptTemplate: String?, chatTemplate: String?, base: URL) throws -> PromptTemplate? {
        if promptTemplate != nil, let chat = chatTemplate, chat != "none" {
            throw DatasetError(file: "chat template", line: nil, field: nil,
                               message: "a prompt template and chat template \(chat) exclude each other (give one)", setting: .chatTemplate)
        }
        let text = try promptTemplate.map { try PromptTemplate($0, setting: .promptTemplate) }
        if let spec = try ChatPromptSpec.resolve(promptTemplate == nil ? chatTemplate : "none", base: base) {
            return try PromptTemplate.chat(spec)
        }
        return text
    }

    /// One line saying which prompt format is used, for the commands to print.
    public var summary: String {
        if let chat { return "chat template from \(chat.origin), question as the user message, generation prompt added" }
        return "prompt template \(text.debugDescription) (no chat template)"
    }

    /// A chat prompt; renders one probe question so that a template that cannot render fails here.
    public static func chat(_ spec: ChatPromptSpec) throws -> PromptTemplate {
        var t = PromptTemplate(unchecked: "")
        t.chat = spec
        _ = try spec.render(question: "1 + 1 = ?")
        return t
    }
}

/// A chat template as a prompt: the template text, its origin (for errors) and the special-token
/// variables transformers passes to it.
public struct ChatPromptSpec: Equatable, Sendable, Codable {
    public var source: String
    public var origin: String
    public var variables: [String: String]

    public init(source: String, origin: String, variables: [String: String]) {
        self.source = source
        self.origin = origin
        self.variables = variables
    }

    public func render(question: String) throws -> String {
        let template = try ChatTemplate(source: source, origin: origin)
        return try template.render(messages: [ChatMessage(role: "user", content: question)], addGenerationPrompt: true,
                                   variables: variables.mapValues { .string($0) })
    }

    /// The chat template and special tokens of a workspace's `base/tokenizer_config.json`
    /// (`chat_template`, `bos_token`, `eos_token`, `unk_token`, `pad_token`); nil when it has no
    /// template.
    public static func fromTokenizerConfig(_ url: URL) throws -> ChatPromptSpec? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url))
        guard let config = object as? [String: Any] else {
            throw DatasetError(file: url.path, line: nil, field: nil, message: "expected a JSON object")
        }
        guard let template = config["chat_template"] else { return nil }
        guard let source = template as? String else {
            throw DatasetError(file: url.path, line: nil, field: "chat_template",
                               message: "expected the template as one string (named templates are not supported)")
        }
        var variables: [String: String] = [:]
        for key in ["bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token"] {
            if let s = config[key] as? String { variables[key] = s }
            else if let d = config[key] as? [String: Any], let s = d["content"] as? String { variables[key] = s }
        }
        return ChatPromptSpec(source: source, origin: "\(url.path) (chat_template)", variables: variables)
    }

    /// `--chat-template auto|none|FILE`. `nil` means the default: `auto` when the workspace has a
    /// template, else `none`. Returns nil for `none` (the plain prompt template applies).
    /// A FILE gets the workspace's special tokens.
    public static func resolve(_ choice: String?, base: URL) throws -> ChatPromptSpec? {
        let config = base.appendingPathComponent("tokenizer_config.json")
        switch choice {
        case nil: return try fromTokenizerConfig(config)
        case "none"?: return nil
        case "auto"?:
            guard let spec = try fromTokenizerConfig(config) else {
                throw DatasetError(file: config.path, line: nil, field: "chat_template",
                                   message: "chat template auto: the workspace's model has no chat template; choose none or a Jinja file",
                                   setting: .chatTemplate)
            }
            return spec
        case let path?:
            let url = URL(fileURLWithPath: path)
            guard let data = FileManager.default.contents(atPath: url.path), let source = String(data: data, encoding: .utf8) else {
                throw DatasetError(file: path, line: nil, field: nil, message: "cannot read the chat template (UTF-8 text)")
            }
            let variables = try fromTokenizerConfig(config)?.variables ?? [:]
            return ChatPromptSpec(source: source, origin: path, variables: variables)
        }
    }
}
