/// Builds the syntax tree from the lexer's segments, following Jinja's grammar and operator
/// precedence (jinja2's parser: conditional, or, and, not, comparisons, + -, ~, * / // %, **,
/// unary, then postfix `.`/`[]`/`()`, then filters `|` and tests `is`). Statements: `if`/`elif`/
/// `else`, `for ... in ... [if ...]`/`else`, `set`, `break`/`continue` (jinja2.ext.loopcontrols,
/// which transformers enables) and transformers' `generation` block. Anything else is refused
/// naming the construct.

struct Parser {
    let origin: String
    private var segments: [Segment]
    private var index = 0

    init(segments: [Segment], origin: String) {
        self.segments = segments
        self.origin = origin
    }

    private static let unsupportedStatements: Set<String> = [
        "macro", "call", "filter", "block", "extends", "include", "import", "from", "raw", "with",
        "autoescape", "do", "trans", "pluralize",
    ]

    mutating func parseTemplate() throws -> [Node] {
        let (nodes, end) = try parseBody(until: [])
        if let (name, _, position) = end {
            throw syntax("unexpected '{% \(name) %}'", position)
        }
        return nodes
    }

    private func syntax(_ message: String, _ p: SourcePosition) -> TemplateError {
        TemplateError(.syntax, message, origin: origin, line: p.line, column: p.column)
    }

    private func unsupported(_ construct: String, _ message: String, _ p: SourcePosition) -> TemplateError {
        TemplateError(.unsupported(construct: construct), message, origin: origin, line: p.line, column: p.column)
    }

    /// Parses nodes until a statement whose keyword is in `until` (returned with its tokens).
    private mutating func parseBody(until: Set<String>, opened: SourcePosition = SourcePosition(line: 1, column: 1)) throws -> ([Node], (String, [Token], SourcePosition)?) {
        var nodes: [Node] = []
        while index < segments.count {
            let segment = segments[index]
            index += 1
            switch segment {
            case .text(let text):
                nodes.append(.text(text))
            case .output(let tokens, let position):
                var stream = TokenStream(tokens: tokens, origin: origin, end: position)
                guard !tokens.isEmpty else { throw syntax("empty '{{ }}'", position) }
                let expr = try stream.parseTupleOrExpression()
                try stream.expectEnd()
                nodes.append(.output(expr))
            case .statement(let tokens, let position):
                guard let first = tokens.first, case .name(let keyword) = first.kind else {
                    throw syntax("a statement must start with a keyword", position)
                }
                if until.contains(keyword) {
                    return (nodes, (keyword, Array(tokens.dropFirst()), first.position))
                }
                nodes.append(contentsOf: try parseStatement(keyword, Array(tokens.dropFirst()), first.position))
            }
        }
        if !until.isEmpty {
            let expected = until.sorted().map { "'{% \($0) %}'" }.joined(separator: " or ")
            throw syntax("the template ends without \(expected) closing this block", opened)
        }
        return (nodes, nil)
    }

    private mutating func parseStatement(_ keyword: String, _ tokens: [Token], _ position: SourcePosition) throws -> [Node] {
        var stream = TokenStream(tokens: tokens, origin: origin, end: position)
        switch keyword {
        case "if":
            var branches: [(Expr, [Node])] = []
            var condition = try stream.parseExpression()
            try stream.expectEnd()
            while true {
                let (body, end) = try parseBody(until: ["elif", "else", "endif"], opened: position)
                branches.append((condition, body))
                guard let (name, rest, p) = end else { break }
                var next = TokenStream(tokens: rest, origin: origin, end: p)
                if name == "elif" {
                    condition = try next.parseExpression()
                    try next.expectEnd()
                    continue
                }
                try next.expectEnd()
                if name == "endif" { return [.conditional(branches, otherwise: [])] }
                let (otherwise, last) = try parseBody(until: ["endif"], opened: position)
                if let (_, restEnd, pEnd) = last { let s = TokenStream(tokens: restEnd, origin: origin, end: pEnd); try s.expectEnd() }
                return [.conditional(branches, otherwise: otherwise)]
            }
            return [.conditional(branches, otherwise: [])]
        case "for":
            var targets: [String] = [try stream.expectName()]
            while stream.skipOp(",") { targets.append(try stream.expectName()) }
            try stream.expectKeyword("in")
            let iterable = try stream.parseTupleOrExpression(conditional: false)
            var filter: Expr? = nil
            if stream.skipKeyword("if") { filter = try stream.parseExpression() }
            if stream.peekKeyword("recursive") {
                throw unsupported("'for ... recursive'", "recursive loops are not implemented", stream.currentPosition)
            }
            try stream.expectEnd()
            let (body, end) = try parseBody(until: ["else", "endfor"], opened: position)
            var otherwise: [Node] = []
            if let (name, rest, p) = end {
                let s = TokenStream(tokens: rest, origin: origin, end: p)
                try s.expectEnd()
                if name == "else" {
                    let (elseBody, last) = try parseBody(until: ["endfor"], opened: position)
                    otherwise = elseBody
                    if let (_, restEnd, pEnd) = last { let s2 = TokenStream(tokens: restEnd, origin: origin, end: pEnd); try s2.expectEnd() }
                }
            }
            return [.loop(targets: targets, iterable: iterable, filter: filter, body: body, otherwise: otherwise, position: position)]
        case "set":
            let name = try stream.expectName()
            var target = SetTarget.name(name)
            if stream.skipOp(".") { target = .attribute(name, try stream.expectName()) }
            if stream.peekOp(",") {
                throw unsupported("'set' with several targets", "assign one name at a time", stream.currentPosition)
            }
            if stream.atEnd {
                throw unsupported("block 'set' ('{% set \(name) %}...{% endset %}')", "use '{% set name = expression %}'", position)
            }
            try stream.expectOp("=")
            let value = try stream.parseTupleOrExpression()
            try stream.expectEnd()
            return [.set(target, value, position)]
        case "break":
            try stream.expectEnd()
            return [.breakLoop(position)]
        case "continue":
            try stream.expectEnd()
            return [.continueLoop(position)]
        case "generation":
            // transformers' extension: marks the assistant's tokens; renders its body unchanged.
            try stream.expectEnd()
            let (body, last) = try parseBody(until: ["endgeneration"], opened: position)
            if let (_, rest, p) = last { let s = TokenStream(tokens: rest, origin: origin, end: p); try s.expectEnd() }
            return body
        default:
            if Parser.unsupportedStatements.contains(keyword) {
                throw unsupported("'{% \(keyword) %}'", "this statement is not implemented", position)
            }
            throw syntax("unknown statement '{% \(keyword) %}'", position)
        }
    }
}

/// The tokens of one tag, with Jinja's expression grammar.
struct TokenStream {
    let tokens: [Token]
    let origin: String
    /// Where the tag starts: the position reported for an error at its end.
    let end: SourcePosition
    private var index = 0

    init(tokens: [Token], origin: String, end: SourcePosition) {
        self.tokens = tokens
        self.origin = origin
        self.end = end
    }

    var atEnd: Bool { index >= tokens.count }
    var currentPosition: SourcePosition { atEnd ? end : tokens[index].position }
    private var current: TokenKind? { atEnd ? nil : tokens[index].kind }

    private func syntax(_ message: String) -> TemplateError {
        let p = currentPosition
        return TemplateError(.syntax, message, origin: origin, line: p.line, column: p.column)
    }

    private func unsupported(_ construct: String, _ message: String, _ p: SourcePosition) -> TemplateError {
        TemplateError(.unsupported(construct: construct), message, origin: origin, line: p.line, column: p.column)
    }

    private func describe(_ kind: TokenKind?) -> String {
        switch kind {
        case nil: return "end of tag"
        case .name(let n): return "'\(n)'"
        case .string(let s): return "string '\(s)'"
        case .integer(let i): return "\(i)"
        case .float(let f): return "\(f)"
        case .op(let o): return "'\(o)'"
        }
    }

    func expectEnd() throws {
        if !atEnd { throw syntax("unexpected \(describe(current)) where the tag should end") }
    }

    func peekOp(_ op: String) -> Bool { current == .op(op) }
    func peekKeyword(_ name: String) -> Bool { current == .name(name) }

    mutating func skipOp(_ op: String) -> Bool {
        if peekOp(op) { index += 1; return true }
        return false
    }

    mutating func skipKeyword(_ name: String) -> Bool {
        if peekKeyword(name) { index += 1; return true }
        return false
    }

    mutating func expectOp(_ op: String) throws {
        guard skipOp(op) else { throw syntax("expected '\(op)', found \(describe(current))") }
    }

    mutating func expectKeyword(_ name: String) throws {
        guard skipKeyword(name) else { throw syntax("expected '\(name)', found \(describe(current))") }
    }

    mutating func expectName() throws -> String {
        guard case .name(let n)? = current else { throw syntax("expected a name, found \(describe(current))") }
        index += 1
        return n
    }

    /// `a, b` without parentheses is a tuple (as in `{% set x = 1, 2 %}`).
    mutating func parseTupleOrExpression(conditional: Bool = true) throws -> Expr {
        let p = currentPosition
        let first = conditional ? try parseExpression() : try parseOr()
        guard peekOp(",") else { return first }
        var items = [first]
        while skipOp(",") {
            if atEnd || peekKeyword("if") { break }
            items.append(conditional ? try parseExpression() : try parseOr())
        }
        return Expr(kind: .tuple(items), position: p)
    }

    mutating func parseExpression() throws -> Expr {
        let p = currentPosition
        var expr = try parseOr()
        while skipKeyword("if") {
            let condition = try parseOr()
            var otherwise: Expr? = nil
            if skipKeyword("else") { otherwise = try parseExpression() }
            expr = Expr(kind: .conditional(expr, condition: condition, otherwise: otherwise), position: p)
        }
        return expr
    }

    private mutating func parseOr() throws -> Expr {
        var left = try parseAnd()
        while case .name("or")? = current {
            let p = currentPosition
            index += 1
            left = Expr(kind: .or(left, try parseAnd()), position: p)
        }
        return left
    }

    private mutating func parseAnd() throws -> Expr {
        var left = try parseNot()
        while case .name("and")? = current {
            let p = currentPosition
            index += 1
            left = Expr(kind: .and(left, try parseNot()), position: p)
        }
        return left
    }

    private mutating func parseNot() throws -> Expr {
        if case .name("not")? = current {
            let p = currentPosition
            index += 1
            return Expr(kind: .not(try parseNot()), position: p)
        }
        return try parseCompare()
    }

    private mutating func parseCompare() throws -> Expr {
        let p = currentPosition
        let first = try parseMath1()
        var rest: [(String, Expr)] = []
        while true {
            if case .op(let op)? = current, ["==", "!=", "<", ">", "<=", ">="].contains(op) {
                index += 1
                rest.append((op, try parseMath1()))
            } else if skipKeyword("in") {
                rest.append(("in", try parseMath1()))
            } else if peekKeyword("not"), index + 1 < tokens.count, tokens[index + 1].kind == .name("in") {
                index += 2
                rest.append(("not in", try parseMath1()))
            } else {
                break
            }
        }
        return rest.isEmpty ? first : Expr(kind: .compare(first, rest), position: p)
    }

    private mutating func parseBinary(_ ops: [String], _ next: (inout TokenStream) throws -> Expr) throws -> Expr {
        var left = try next(&self)
        while case .op(let op)? = current, ops.contains(op) {
            let p = currentPosition
            index += 1
            left = Expr(kind: .binary(op, left, try next(&self)), position: p)
        }
        return left
    }

    private mutating func parseMath1() throws -> Expr { try parseBinary(["+", "-"]) { try $0.parseConcat() } }
    private mutating func parseConcat() throws -> Expr { try parseBinary(["~"]) { try $0.parseMath2() } }
    private mutating func parseMath2() throws -> Expr { try parseBinary(["*", "/", "//", "%"]) { try $0.parsePow() } }
    private mutating func parsePow() throws -> Expr { try parseBinary(["**"]) { try $0.parseUnary() } }

    private mutating func parseUnary(withFilter: Bool = true) throws -> Expr {
        let p = currentPosition
        var expr: Expr
        if skipOp("-") {
            expr = Expr(kind: .negate(try parseUnary(withFilter: false)), position: p)
        } else if skipOp("+") {
            expr = Expr(kind: .plus(try parseUnary(withFilter: false)), position: p)
        } else {
            expr = try parsePrimary()
        }
        expr = try parsePostfix(expr)
        if withFilter { expr = try parseFilterExpression(expr) }
        return expr
    }

    private mutating func parsePrimary() throws -> Expr {
        let p = currentPosition
        guard let kind = current else { throw syntax("expected an expression, found end of tag") }
        index += 1
        switch kind {
        case .name(let n):
            switch n {
            case "true", "True": return Expr(kind: .literal(.bool(true)), position: p)
            case "false", "False": return Expr(kind: .literal(.bool(false)), position: p)
            case "none", "None": return Expr(kind: .literal(.none), position: p)
            default: return Expr(kind: .name(n), position: p)
            }
        case .string(var s):
            while case .string(let more)? = current { s += more; index += 1 }
            return Expr(kind: .literal(.string(s)), position: p)
        case .integer(let i): return Expr(kind: .literal(.int(i)), position: p)
        case .float(let f): return Expr(kind: .literal(.double(f)), position: p)
        case .op("("):
            if skipOp(")") { return Expr(kind: .tuple([]), position: p) }
            let first = try parseExpression()
            if skipOp(")") { return first }
            var items = [first]
            while skipOp(",") {
                if peekOp(")") { break }
                items.append(try parseExpression())
            }
            try expectOp(")")
            return Expr(kind: .tuple(items), position: p)
        case .op("["):
            var items: [Expr] = []
            while !peekOp("]") {
                items.append(try parseExpression())
                if !skipOp(",") { break }
            }
            try expectOp("]")
            return Expr(kind: .list(items), position: p)
        case .op("{"):
            var pairs: [(Expr, Expr)] = []
            while !peekOp("}") {
                let key = try parseExpression()
                try expectOp(":")
                pairs.append((key, try parseExpression()))
                if !skipOp(",") { break }
            }
            try expectOp("}")
            return Expr(kind: .dict(pairs), position: p)
        default:
            index -= 1
            throw syntax("unexpected \(describe(kind))")
        }
    }

    private mutating func parsePostfix(_ start: Expr) throws -> Expr {
        var expr = start
        while true {
            let p = currentPosition
            if skipOp(".") {
                guard case .name(let n)? = current else {
                    if case .integer(let i)? = current {
                        index += 1
                        expr = Expr(kind: .item(expr, Expr(kind: .literal(.int(i)), position: p)), position: p)
                        continue
                    }
                    throw syntax("expected an attribute name after '.'")
                }
                index += 1
                expr = Expr(kind: .attribute(expr, n), position: p)
            } else if skipOp("[") {
                expr = try parseSubscript(expr, p)
            } else if peekOp("(") {
                expr = try parseCall(expr)
            } else {
                return expr
            }
        }
    }

    private mutating func parseSubscript(_ target: Expr, _ p: SourcePosition) throws -> Expr {
        var parts: [Expr?] = []
        var isSlice = false
        var currentPart: Expr? = nil
        while !peekOp("]") {
            if skipOp(":") {
                isSlice = true
                parts.append(currentPart)
                currentPart = nil
                continue
            }
            if peekOp(",") { throw unsupported("subscript with a tuple", "use one index", currentPosition) }
            currentPart = try parseExpression()
        }
        try expectOp("]")
        parts.append(currentPart)
        if !isSlice {
            guard let index = parts[0] else { throw syntax("empty subscript '[]'") }
            return Expr(kind: .item(target, index), position: p)
        }
        guard parts.count <= 3 else { throw syntax("a slice has at most three parts") }
        while parts.count < 3 { parts.append(nil) }
        return Expr(kind: .slice(target, parts[0], parts[1], parts[2]), position: p)
    }

    private mutating func parseCallArguments() throws -> ([Expr], [(String, Expr)]) {
        try expectOp("(")
        var args: [Expr] = []
        var kwargs: [(String, Expr)] = []
        while !peekOp(")") {
            if peekOp("*") || peekOp("**") {
                throw unsupported("'*' or '**' arguments", "pass arguments one by one", currentPosition)
            }
            if case .name(let n)? = current, index + 1 < tokens.count, tokens[index + 1].kind == .op("=") {
                index += 2
                kwargs.append((n, try parseExpression()))
            } else {
                if !kwargs.isEmpty { throw syntax("positional argument after a keyword argument") }
                args.append(try parseExpression())
            }
            if !skipOp(",") { break }
        }
        try expectOp(")")
        return (args, kwargs)
    }

    private mutating func parseCall(_ callee: Expr) throws -> Expr {
        let p = currentPosition
        let (args, kwargs) = try parseCallArguments()
        return Expr(kind: .call(callee, args, kwargs), position: p)
    }

    private mutating func parseFilterExpression(_ start: Expr) throws -> Expr {
        var expr = start
        while true {
            let p = currentPosition
            if skipOp("|") {
                var name = try expectName()
                while skipOp(".") { name += "." + (try expectName()) }
                var args: [Expr] = [], kwargs: [(String, Expr)] = []
                if peekOp("(") { (args, kwargs) = try parseCallArguments() }
                expr = Expr(kind: .filter(expr, name, args, kwargs), position: p)
            } else if skipKeyword("is") {
                let negated = skipKeyword("not")
                var name = try expectName()
                while skipOp(".") { name += "." + (try expectName()) }
                var args: [Expr] = []
                if peekOp("(") {
                    let (a, kw) = try parseCallArguments()
                    if !kw.isEmpty { throw unsupported("keyword arguments to a test", "test '\(name)'", p) }
                    args = a
                } else if let kind = current, startsArgument(kind) {
                    // Jinja's `x is divisibleby 3` / `x is sameas none`: one argument without parentheses.
                    var arg = try parsePrimary()
                    arg = try parsePostfix(arg)
                    args = [arg]
                }
                expr = Expr(kind: .test(expr, name, args, negated: negated), position: p)
            } else if peekOp("(") {
                expr = try parseCall(expr)
            } else {
                return expr
            }
        }
    }

    private func startsArgument(_ kind: TokenKind) -> Bool {
        switch kind {
        case .name(let n): return !["else", "or", "and"].contains(n)
        case .string, .integer, .float: return true
        case .op(let o): return o == "(" || o == "[" || o == "{"
        }
    }
}
