/// Errors of the chat-template renderer. Each names the template (`origin`: a file path or
/// `base/tokenizer_config.json`), the line and column, and the construct involved.
public struct TemplateError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Equatable, Sendable {
        /// The template is not valid Jinja (as far as this subset can tell).
        case syntax
        /// Valid Jinja that this renderer does not implement: rendering stops rather than
        /// producing a different prompt than `transformers` would.
        case unsupported(construct: String)
        /// The template called `raise_exception(message)`.
        case raised
        /// A runtime error (wrong types, undefined attribute of an undefined value, ...).
        case runtime
    }

    public let kind: Kind
    public let message: String
    public let origin: String
    public let line: Int
    public let column: Int

    public init(_ kind: Kind, _ message: String, origin: String, line: Int, column: Int) {
        self.kind = kind
        self.message = message
        self.origin = origin
        self.line = line
        self.column = column
    }

    public var description: String {
        let place = "\(origin):\(line):\(column)"
        switch kind {
        case .syntax: return "\(place): chat template syntax error: \(message)"
        case .unsupported(let construct):
            return "\(place): chat template uses \(construct), which treerpo's Jinja renderer does not support (\(message))"
        case .raised: return "\(place): chat template raised an exception: \(message)"
        case .runtime: return "\(place): chat template error: \(message)"
        }
    }
}

/// A place in the template source (1-based line and column, in Unicode scalars).
struct SourcePosition: Equatable {
    var line: Int
    var column: Int
}
