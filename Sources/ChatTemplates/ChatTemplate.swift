import Foundation

/// One chat message as `apply_chat_template` receives it.
public struct ChatMessage: Equatable, Sendable {
    public var role: String
    public var content: String
    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// A model's Jinja chat template, parsed once and rendered the way `transformers`'
/// `apply_chat_template(messages, tokenize=False, ...)` renders it (jinja2 with trim_blocks and
/// lstrip_blocks, `raise_exception`, `strftime_now`, `tojson` without HTML escaping). Unsupported
/// Jinja is refused when parsing or, for names only known at run time (filters, tests, methods),
/// when rendering reaches them: never a silently different prompt.
public struct ChatTemplate {
    public let source: String
    /// Where the template came from, used in every error (a file path, or a key of a file).
    public let origin: String
    let nodes: [Node]

    public init(source: String, origin: String) throws {
        self.source = source
        self.origin = origin
        let segments = try Lexer(source: source, origin: origin).segments()
        var parser = Parser(segments: segments, origin: origin)
        nodes = try parser.parseTemplate()
    }

    /// Renders `messages`. `variables` are the other names transformers passes (its tokenizer's
    /// special tokens such as `bos_token`, `eos_token`); `tools` and `documents` are none, as in
    /// `apply_chat_template` without them. `now` is what `strftime_now` formats.
    public func render(messages: [ChatMessage], addGenerationPrompt: Bool,
                       variables: [String: Value] = [:], now: Date = Date()) throws -> String {
        var globals = variables
        globals["messages"] = .array(messages.map { .object(Value.Object([("role", .string($0.role)), ("content", .string($0.content))])) })
        globals["add_generation_prompt"] = .bool(addGenerationPrompt)
        globals["tools"] = globals["tools"] ?? Value.none
        globals["documents"] = globals["documents"] ?? Value.none
        return try Evaluator(origin: origin, globals: globals, now: now).render(nodes)
    }
}
