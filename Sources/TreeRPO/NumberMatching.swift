/// Turns an extracted answer string into an exact number, and decides whether two answers agree.
///
/// Accepted number forms (after `normalize`): integers and decimals with an optional sign
/// (`-3`, `+5`, `.5`, `3.50`, `5.`), thousands separators in groups of exactly three
/// (`1,234,567.5`; `1,23` is *not* a number, it is more likely a list), fractions `a/b`,
/// `\frac{a}{b}` (also `\dfrac`, `\tfrac`, `\frac12`, nested), mixed numbers `1\frac{1}{2}`,
/// and a trailing unit word separated by a space (`12 apples`, `5 cm`). Currency and percent
/// signs, degrees, LaTeX spacing (`\!`, `\,`, `{,}`) and `\text{...}` wrappers are stripped, so
/// `50\%` equals `50` (not `0.5`): references in GSM8K and MATH write percentages as the number.
/// Anything else (`2x`, `\sqrt{2}`, `5 and 6`, `1e3`) is not a number.
public enum NumberMatching {
    /// Longest answer we try to parse; longer strings are compared as text only.
    static let maxLength = 2_000

    /// The exact value of an answer string, or `nil` when it is not a plain number.
    public static func parse(_ answer: String) -> ExactNumber? {
        let text = normalize(answer)
        guard text.count <= maxLength else { return nil }
        return parseNumber(Array(text), allowUnit: true)
    }

    /// True when `predicted` and `reference` denote the same answer: exactly equal numbers when
    /// both are numbers; otherwise equal normalised text (for answers such as `\sqrt{2}` or
    /// `(1,2)`). A number never equals a non-number, and nothing is ever a substring match.
    public static func equivalent(_ predicted: String, _ reference: String) -> Bool {
        let p = parse(predicted), r = parse(reference)
        if let p, let r { return p == r }
        if p != nil || r != nil { return false }
        let a = canonicalText(predicted), b = canonicalText(reference)
        return !a.isEmpty && a == b
    }

    /// Normalised text with all whitespace removed, for comparing non-numeric answers.
    static func canonicalText(_ answer: String) -> String {
        var s = normalize(answer).filter { !$0.isWhitespace }
        while s.hasPrefix("{") && s.hasSuffix("}") && balancedOuterBraces(Array(s)) {
            s = String(s.dropFirst().dropLast())
        }
        return s
    }

    // MARK: - Normalisation

    /// Strips presentation that does not change the value: math delimiters, currency, percent,
    /// degrees, LaTeX spacing and sizing, `\text{}`-like wrappers, a trailing full stop, and a
    /// leading `x =` (a variable assignment keeps only its right-hand side).
    static func normalize(_ answer: String) -> String {
        var s = answer.trimmingCharacters(in: .whitespacesAndNewlines)
        for command in ["\\text", "\\textbf", "\\mathrm", "\\mbox", "\\mathbf", "\\textnormal"] {
            s = unwrap(command: command, in: s)
        }
        let replacements: [(String, String)] = [
            ("\\dfrac", "\\frac"), ("\\tfrac", "\\frac"), ("\\left", ""), ("\\right", ""),
            ("\\displaystyle", ""), ("{,}", ","), ("\\!", ""), ("\\,", ""), ("\\;", ""), ("\\:", ""),
            ("\\ ", " "), ("~", " "), ("\\%", ""), ("%", ""), ("\\$", ""), ("$", ""),
            ("^{\\circ}", ""), ("^\\circ", ""), ("\u{00B0}", ""), ("\u{2212}", "-"),
            ("\\(", ""), ("\\)", ""), ("\\[", ""), ("\\]", ""),
        ]
        for (from, to) in replacements where s.contains(from) {
            s = s.replacingOccurrences(of: from, with: to)
        }
        s = s.trimmingCharacters(in: .whitespacesAndNewlines)
        while s.hasSuffix(".") && !s.isEmpty {
            s.removeLast()
            s = s.trimmingCharacters(in: .whitespaces)
        }
        // `x = 5`, `12 + 3 = 15`: keep what follows the last `=`, unless the left side lists
        // several things (`x=5, y=6` must not become `6`).
        if let eq = s.lastIndex(of: "=") {
            let left = s[..<eq]
            if !left.contains(",") && !left.contains(";") && !left.trimmingCharacters(in: .whitespaces).isEmpty {
                s = String(s[s.index(after: eq)...]).trimmingCharacters(in: .whitespaces)
            }
        }
        return s
    }

    /// `\text{ cm}` -> ` cm`, with nested braces matched.
    static func unwrap(command: String, in s: String) -> String {
        guard s.contains(command + "{") else { return s }
        var chars = Array(s)
        let pattern = Array(command + "{")
        var i = 0
        while i + pattern.count <= chars.count {
            if Array(chars[i..<(i + pattern.count)]) == pattern,
               let close = matchingBrace(chars, open: i + pattern.count - 1) {
                let inner = Array(chars[(i + pattern.count)..<close])
                chars.replaceSubrange(i...close, with: inner)
                continue
            }
            i += 1
        }
        return String(chars)
    }

    /// Index of the `}` closing the `{` at `open`; `\{` and `\}` do not count.
    static func matchingBrace(_ chars: [Character], open: Int) -> Int? {
        var depth = 0
        var i = open
        while i < chars.count {
            let c = chars[i]
            if c == "\\" { i += 2; continue }
            if c == "{" { depth += 1 }
            if c == "}" {
                depth -= 1
                if depth == 0 { return i }
            }
            i += 1
        }
        return nil
    }

    static func balancedOuterBraces(_ chars: [Character]) -> Bool {
        chars.first == "{" && matchingBrace(chars, open: 0) == chars.count - 1
    }

    // MARK: - Parsing

    /// number := sign? ( frac | decimal (ws* (frac | '/' ws* decimal))? ) unit?
    static func parseNumber(_ input: [Character], allowUnit: Bool) -> ExactNumber? {
        var chars = input
        while chars.first?.isWhitespace == true { chars.removeFirst() }
        while chars.last?.isWhitespace == true { chars.removeLast() }
        while balancedOuterBraces(chars) { chars = Array(chars.dropFirst().dropLast()) }
        var i = 0
        var negative = false
        if i < chars.count, chars[i] == "-" || chars[i] == "+" {
            negative = chars[i] == "-"
            i += 1
            while i < chars.count, chars[i] == " " { i += 1 }
        }
        var value: ExactNumber
        if hasPrefix(chars, i, "\\frac") {
            guard let f = parseFrac(chars, &i) else { return nil }
            value = f
        } else {
            guard let whole = parseDecimal(chars, &i) else { return nil }
            value = whole.value
            var j = i
            while j < chars.count, chars[j] == " " { j += 1 }
            if hasPrefix(chars, j, "\\frac") {
                // Mixed number: only after a plain integer, and the fraction has no sign.
                guard whole.isInteger else { return nil }
                i = j
                guard let f = parseFrac(chars, &i), !f.negative, let m = ExactNumber.mixed(value, f) else { return nil }
                value = m
            } else if j < chars.count, chars[j] == "/" {
                j += 1
                while j < chars.count, chars[j] == " " { j += 1 }
                i = j
                guard let d = parseDecimal(chars, &i), let q = ExactNumber.divide(value, d.value) else { return nil }
                value = q
            }
        }
        guard i == chars.count || (allowUnit && isUnitSuffix(chars[i...])) else { return nil }
        return value.negated(negative)
    }

    /// `\frac{a}{b}` or `\frac12`; each argument is itself a number (signed, nested, no unit).
    static func parseFrac(_ chars: [Character], _ i: inout Int) -> ExactNumber? {
        i += 5  // "\frac"
        guard let a = fracArgument(chars, &i), let b = fracArgument(chars, &i) else { return nil }
        guard let na = parseNumber(a, allowUnit: false), let nb = parseNumber(b, allowUnit: false) else { return nil }
        return ExactNumber.divide(na, nb)
    }

    static func fracArgument(_ chars: [Character], _ i: inout Int) -> [Character]? {
        while i < chars.count, chars[i] == " " { i += 1 }
        guard i < chars.count else { return nil }
        if chars[i] == "{" {
            guard let close = matchingBrace(chars, open: i) else { return nil }
            defer { i = close + 1 }
            return Array(chars[(i + 1)..<close])
        }
        guard chars[i].isASCII, chars[i].isNumber else { return nil }
        defer { i += 1 }
        return [chars[i]]
    }

    /// Digits with optional thousands groups and fraction part. `isInteger` is false when a
    /// decimal point was written (so `1.\frac{1}{2}` is not a mixed number).
    static func parseDecimal(_ chars: [Character], _ i: inout Int) -> (value: ExactNumber, isInteger: Bool)? {
        func isDigit(_ k: Int) -> Bool { k < chars.count && chars[k].isASCII && chars[k].isNumber }
        var digits: [Character] = []
        var groupLength = 0
        while isDigit(i) {
            digits.append(chars[i])
            groupLength += 1
            i += 1
        }
        // Thousands separators: the first group 1-3 digits, every later group exactly 3.
        if i < chars.count, chars[i] == ",", isDigit(i + 1) {
            guard (1...3).contains(groupLength) else { return nil }
            while i < chars.count, chars[i] == "," {
                guard isDigit(i + 1), isDigit(i + 2), isDigit(i + 3), !isDigit(i + 4) else { return nil }
                digits.append(contentsOf: chars[(i + 1)...(i + 3)])
                i += 4
            }
        }
        var fraction: [Character] = []
        var sawPoint = false
        if i < chars.count, chars[i] == "." {
            sawPoint = true
            i += 1
            while isDigit(i) {
                fraction.append(chars[i])
                i += 1
            }
        }
        guard !digits.isEmpty || !fraction.isEmpty else { return nil }
        guard let n = BigUInt(digits: digits + fraction),
              let v = ExactNumber(negative: false, numerator: n, denominator: BigUInt.pow10(fraction.count))
        else { return nil }
        return (v, !sawPoint)
    }

    /// ` apples`, ` cm`: whitespace, then letters (and spaces or full stops) only.
    static func isUnitSuffix(_ rest: ArraySlice<Character>) -> Bool {
        guard let first = rest.first, first.isWhitespace else { return false }
        let body = rest.drop { $0.isWhitespace }
        guard let head = body.first, head.isLetter else { return false }
        return body.allSatisfy { ($0.isLetter && !$0.isNumber) || $0 == " " || $0 == "." }
    }

    static func hasPrefix(_ chars: [Character], _ i: Int, _ prefix: String) -> Bool {
        let p = Array(prefix)
        return i + p.count <= chars.count && Array(chars[i..<(i + p.count)]) == p
    }
}
