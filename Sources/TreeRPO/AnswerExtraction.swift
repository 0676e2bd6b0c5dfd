import Foundation

/// Finds the final answer in a model response or a reference solution.
///
/// Three markers are recognised: `\boxed{...}` (MATH; nested braces matched, `\fbox` too),
/// `#### x` (GSM8K; the rest of that line) and "The answer is x" (case-insensitive; up to the
/// end of the sentence, so `3.5.` gives `3.5`). When several markers occur, the one that starts
/// **last** in the text wins: a model that writes `\boxed{3}` and then "wait, the answer is 4"
/// has answered 4, and "The answer is \boxed{4}" resolves to the box.
public enum AnswerExtraction {
    public enum Marker: String, Sendable, Codable {
        case boxed, hashes, answerIs
    }

    public struct Extracted: Equatable, Sendable {
        public var answer: String
        public var marker: Marker
    }

    /// The final answer of a response, or `nil` when it has none of the markers (or the marker
    /// is empty, such as a bare `\boxed{}`).
    public static func extract(from text: String) -> Extracted? {
        var candidates: [(position: String.Index, value: Extracted)] = []
        if let b = lastBoxed(in: text) { candidates.append((b.start, Extracted(answer: b.content, marker: .boxed))) }
        if let h = lastHashes(in: text) { candidates.append((h.start, Extracted(answer: h.content, marker: .hashes))) }
        if let a = lastAnswerIs(in: text) { candidates.append((a.start, Extracted(answer: a.content, marker: .answerIs))) }
        return candidates.filter { !$0.value.answer.isEmpty }.max { $0.position < $1.position }?.value
    }

    /// The answer a reference solution states: a marked answer when there is one (a GSM8K
    /// `#### x` solution, a MATH `\boxed{}` solution, one of our arithmetic solutions), otherwise
    /// the whole text (a plain reference such as `42`).
    public static func reference(from text: String) -> String {
        extract(from: text)?.answer ?? text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    // MARK: - Markers

    /// Content of the last well-formed `\boxed{...}` / `\fbox{...}` (or `\boxed 5`).
    /// An unbalanced last box (a response cut off mid-answer) falls back to the one before.
    static func lastBoxed(in text: String) -> (start: String.Index, content: String)? {
        let chars = Array(text)
        var best: (Int, String)?
        var i = 0
        while i < chars.count {
            guard chars[i] == "\\" else { i += 1; continue }
            var commandLength = 0
            if NumberMatching.hasPrefix(chars, i, "\\boxed") { commandLength = 6 }
            else if NumberMatching.hasPrefix(chars, i, "\\fbox") { commandLength = 5 }
            guard commandLength > 0 else { i += 1; continue }
            var j = i + commandLength
            if j < chars.count, chars[j] == "{" {
                if let close = NumberMatching.matchingBrace(chars, open: j) {
                    best = (i, String(chars[(j + 1)..<close]).trimmingCharacters(in: .whitespacesAndNewlines))
                }
            } else if j < chars.count, chars[j] == " " {
                // `\boxed 5`: the next whitespace-free token.
                while j < chars.count, chars[j] == " " { j += 1 }
                var k = j
                while k < chars.count, !chars[k].isWhitespace, chars[k] != "$" { k += 1 }
                if k > j { best = (i, String(chars[j..<k])) }
            }
            i += commandLength
        }
        guard let (offset, content) = best else { return nil }
        return (text.index(text.startIndex, offsetBy: offset), content)
    }

    /// The rest of the line after the last `####`.
    static func lastHashes(in text: String) -> (start: String.Index, content: String)? {
        guard let r = text.range(of: "####", options: .backwards) else { return nil }
        var rest = text[r.upperBound...]
        if let newline = rest.firstIndex(where: \.isNewline) { rest = rest[..<newline] }
        return (r.lowerBound, rest.trimmingCharacters(in: .whitespaces))
    }

    /// After the last "answer is" (so "The answer is", "the final answer is", "My answer is"),
    /// an optional colon, up to the end of the line and the end of the sentence.
    static func lastAnswerIs(in text: String) -> (start: String.Index, content: String)? {
        guard let r = text.range(of: "answer is", options: [.backwards, .caseInsensitive]) else { return nil }
        var rest = text[r.upperBound...]
        if let newline = rest.firstIndex(where: \.isNewline) { rest = rest[..<newline] }
        var s = rest.trimmingCharacters(in: .whitespaces)
        if s.hasPrefix(":") { s = String(s.dropFirst()).trimmingCharacters(in: .whitespaces) }
        return (r.lowerBound, endOfSentence(s))
    }

    /// Cuts at the first full stop followed by whitespace or the end ("3.5. Done" -> "3.5"),
    /// or at a "!" / "?"; a decimal point is never a sentence end.
    static func endOfSentence(_ s: String) -> String {
        let chars = Array(s)
        for (k, c) in chars.enumerated() where c == "." || c == "!" || c == "?" {
            if k + 1 == chars.count || chars[k + 1].isWhitespace {
                return String(chars[..<k]).trimmingCharacters(in: .whitespaces)
            }
        }
        return s
    }
}
