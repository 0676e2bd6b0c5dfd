/// Splits a Jinja template into text, `{{ }}` output tags and `{% %}` statement tags, applying
/// the whitespace rules `transformers` renders chat templates with: `trim_blocks` (the first
/// newline after a statement or comment is dropped), `lstrip_blocks` (spaces and tabs from the
/// start of a line up to a statement or comment are dropped), `-` on either side of a tag
/// (all whitespace on that side is dropped), `+` at the start of a tag (no lstrip). As in Jinja,
/// `\r\n` and `\r` become `\n` and one trailing newline of the template is dropped.

import Foundation

enum TokenKind: Equatable {
    case name(String)
    case string(String)
    case integer(Int)
    case float(Double)
    case op(String)
}

struct Token: Equatable {
    var kind: TokenKind
    var position: SourcePosition
}

enum Segment {
    case text(String)
    case output([Token], SourcePosition)
    case statement([Token], SourcePosition)
}

struct Lexer {
    let origin: String
    private let scalars: [Unicode.Scalar]
    private var lineStarts: [Int] = [0]

    init(source: String, origin: String) {
        self.origin = origin
        var normalized: [Unicode.Scalar] = []
        var iterator = source.unicodeScalars.makeIterator()
        var pendingCR = false
        while let s = iterator.next() {
            if pendingCR {
                pendingCR = false
                if s == "\n" { continue }
            }
            if s == "\r" {
                normalized.append("\n")
                pendingCR = true
            } else {
                normalized.append(s)
            }
        }
        if normalized.last == "\n" { normalized.removeLast() }
        scalars = normalized
        for (i, s) in scalars.enumerated() where s == "\n" { lineStarts.append(i + 1) }
    }

    func position(_ offset: Int) -> SourcePosition {
        var lo = 0, hi = lineStarts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if lineStarts[mid] <= offset { lo = mid } else { hi = mid - 1 }
        }
        return SourcePosition(line: lo + 1, column: offset - lineStarts[lo] + 1)
    }

    func error(_ message: String, at offset: Int) -> TemplateError {
        let p = position(offset)
        return TemplateError(.syntax, message, origin: origin, line: p.line, column: p.column)
    }

    private func matches(_ text: String, at i: Int) -> Bool {
        var j = i
        for s in text.unicodeScalars {
            guard j < scalars.count, scalars[j] == s else { return false }
            j += 1
        }
        return true
    }

    static func isSpace(_ s: Unicode.Scalar) -> Bool { s.properties.isWhitespace }

    func segments() throws -> [Segment] {
        var result: [Segment] = []
        var pos = 0
        var lineStarting = true
        let n = scalars.count
        while pos < n {
            // Find the next tag start.
            var tagStart = pos
            var tagKind: Unicode.Scalar? = nil
            while tagStart + 1 < n {
                if scalars[tagStart] == "{", ["{", "%", "#"].contains(scalars[tagStart + 1]) {
                    tagKind = scalars[tagStart + 1]
                    break
                }
                tagStart += 1
            }
            guard let kind = tagKind else {
                result.append(.text(String(String.UnicodeScalarView(scalars[pos..<n]))))
                break
            }
            var text = Array(scalars[pos..<tagStart])
            var inner = tagStart + 2
            let sign: Unicode.Scalar? = inner < n && (scalars[inner] == "-" || scalars[inner] == "+") ? scalars[inner] : nil
            if sign != nil { inner += 1 }
            if sign == "-" {
                while let last = text.last, Lexer.isSpace(last) { text.removeLast() }
            } else if sign != "+" && kind != "{" {
                let lPos = (text.lastIndex(of: "\n").map { $0 + 1 }) ?? 0
                if lPos > 0 || lineStarting {
                    let tail = text[lPos...]
                    if !tail.isEmpty && tail.allSatisfy(Lexer.isSpace) { text.removeSubrange(lPos...) }
                }
            }
            if sign == "+" && kind == "{" {
                throw TemplateError(.unsupported(construct: "'{{+'"), "a '+' after '{{' is not valid Jinja", origin: origin,
                                    line: position(tagStart).line, column: position(tagStart).column)
            }
            if !text.isEmpty { result.append(.text(String(String.UnicodeScalarView(text)))) }

            if kind == "#" {
                // Comment: find "#}".
                var end = inner
                while end + 1 < n, !(scalars[end] == "#" && scalars[end + 1] == "}") { end += 1 }
                guard end + 1 < n else { throw error("comment opened with '{#' is never closed with '#}'", at: tagStart) }
                let stripAfter = end > inner && scalars[end - 1] == "-"
                pos = end + 2
                (pos, lineStarting) = afterTag(pos, stripAll: stripAfter, trimNewline: true)
                continue
            }
            let closer: Unicode.Scalar = kind == "{" ? "}" : "%"
            var tokens: [Token] = []
            var i = inner
            var closed = false
            var stripAfter = false
            var depth = 0  // open brackets: as in Jinja, a tag cannot end inside them
            while i < n {
                let s = scalars[i]
                if Lexer.isSpace(s) { i += 1; continue }
                if depth == 0, s == "-", matchesEnd(closer, at: i + 1) {
                    stripAfter = true
                    i += 3
                    closed = true
                    break
                }
                if depth == 0, matchesEnd(closer, at: i) {
                    i += 2
                    closed = true
                    break
                }
                let (token, next) = try lexToken(at: i)
                if case .op(let o) = token.kind {
                    if o == "(" || o == "[" || o == "{" { depth += 1 }
                    if o == ")" || o == "]" || o == "}" { depth = max(depth - 1, 0) }
                }
                tokens.append(token)
                i = next
            }
            guard closed else {
                throw error(kind == "{" ? "'{{' is never closed with '}}'" : "'{%' is never closed with '%}'", at: tagStart)
            }
            let start = position(tagStart)
            result.append(kind == "{" ? .output(tokens, start) : .statement(tokens, start))
            (pos, lineStarting) = afterTag(i, stripAll: stripAfter, trimNewline: kind == "%")
        }
        return result
    }

    private func matchesEnd(_ closer: Unicode.Scalar, at i: Int) -> Bool {
        i + 1 < scalars.count && scalars[i] == closer && scalars[i + 1] == "}"
    }

    /// Skips what a tag's end consumes: all whitespace after `-`, else one newline with
    /// trim_blocks (statements and comments only). Returns the new position and whether the
    /// consumed text ended a line (Jinja's `line_starting`).
    private func afterTag(_ start: Int, stripAll: Bool, trimNewline: Bool) -> (Int, Bool) {
        var pos = start
        var endedWithNewline = false
        if stripAll {
            while pos < scalars.count, Lexer.isSpace(scalars[pos]) {
                endedWithNewline = scalars[pos] == "\n"
                pos += 1
            }
        } else if trimNewline, pos < scalars.count, scalars[pos] == "\n" {
            pos += 1
            endedWithNewline = true
        }
        return (pos, endedWithNewline)
    }

    private static let operators = ["//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">",
                                    "(", ")", "[", "]", "{", "}", ",", ".", ":", "|", "="]

    private func lexToken(at start: Int) throws -> (Token, Int) {
        let s = scalars[start]
        let p = position(start)
        if s == "_" || s.properties.isAlphabetic && s.isASCII {
            var i = start
            while i < scalars.count, scalars[i] == "_" || (scalars[i].isASCII && (scalars[i].properties.isAlphabetic || ("0"..."9").contains(scalars[i]))) { i += 1 }
            return (Token(kind: .name(String(String.UnicodeScalarView(scalars[start..<i]))), position: p), i)
        }
        if ("0"..."9").contains(s) {
            var i = start
            var isFloat = false
            while i < scalars.count, ("0"..."9").contains(scalars[i]) || scalars[i] == "_" { i += 1 }
            if i + 1 < scalars.count, scalars[i] == ".", ("0"..."9").contains(scalars[i + 1]) {
                isFloat = true
                i += 1
                while i < scalars.count, ("0"..."9").contains(scalars[i]) || scalars[i] == "_" { i += 1 }
            }
            if i < scalars.count, scalars[i] == "e" || scalars[i] == "E" {
                throw TemplateError(.unsupported(construct: "number with an exponent"), "write the number out in full",
                                    origin: origin, line: p.line, column: p.column)
            }
            let digits = String(String.UnicodeScalarView(scalars[start..<i])).replacingOccurrences(of: "_", with: "")
            if isFloat {
                guard let v = Double(digits) else { throw error("bad number '\(digits)'", at: start) }
                return (Token(kind: .float(v), position: p), i)
            }
            guard let v = Int(digits) else { throw error("integer '\(digits)' out of range", at: start) }
            return (Token(kind: .integer(v), position: p), i)
        }
        if s == "'" || s == "\"" {
            var i = start + 1
            var value = String.UnicodeScalarView()
            while i < scalars.count, scalars[i] != s {
                if scalars[i] == "\\" {
                    guard i + 1 < scalars.count else { break }
                    let e = scalars[i + 1]
                    i += 2
                    switch e {
                    case "n": value.append("\n")
                    case "t": value.append("\t")
                    case "r": value.append("\r")
                    case "\\", "'", "\"": value.append(e)
                    case "\n": break
                    case "0": value.append("\0")
                    case "b": value.append("\u{08}")
                    case "f": value.append("\u{0C}")
                    case "v": value.append("\u{0B}")
                    case "a": value.append("\u{07}")
                    case "x", "u", "U":
                        let count = e == "x" ? 2 : (e == "u" ? 4 : 8)
                        guard i + count <= scalars.count,
                              let code = UInt32(String(String.UnicodeScalarView(scalars[i..<(i + count)])), radix: 16),
                              let scalar = Unicode.Scalar(code) else { throw error("bad \\\(e) escape in a string", at: i - 2) }
                        value.append(scalar)
                        i += count
                    default:
                        // Python keeps an unknown escape as written.
                        value.append("\\")
                        value.append(e)
                    }
                    continue
                }
                value.append(scalars[i])
                i += 1
            }
            guard i < scalars.count else { throw error("string literal is never closed", at: start) }
            return (Token(kind: .string(String(value)), position: p), i + 1)
        }
        for op in Lexer.operators where matches(op, at: start) {
            return (Token(kind: .op(op), position: p), start + op.unicodeScalars.count)
        }
        throw error("unexpected character '\(Character(s))'", at: start)
    }
}
