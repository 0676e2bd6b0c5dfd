/// The regex pre-tokenizer patterns of GPT-2, Qwen2 and Llama-3, each run by a hand-written scanner
/// that reproduces the leftmost-first, backtracking semantics of the regex:
///
///   GPT-2:    's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
///   Qwen2:    (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*
///             |\s*[\r\n]+|\s+(?!\S)|\s+
///   Llama-3:  the Qwen2 pattern with \p{N}{1,3}
///
/// Every code point is matched by some alternative, so the matches tile the input and the
/// `Isolated` split is just the list of matches.
enum SplitPattern: Equatable, Sendable {
    case gpt2
    /// Qwen2 (`maxDigits` 1) and Llama-3 (`maxDigits` 3).
    case qwen2(maxDigits: Int)

    static let gpt2Regex = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    static let qwen2Regex =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let llama3Regex =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    init?(regex: String) {
        switch regex {
        case SplitPattern.gpt2Regex: self = .gpt2
        case SplitPattern.qwen2Regex: self = .qwen2(maxDigits: 1)
        case SplitPattern.llama3Regex: self = .qwen2(maxDigits: 3)
        default: return nil
        }
    }

    /// Appends the matches of the pattern in `text` to `out`, as slices of `text`.
    func split(_ text: ArraySlice<Unicode.Scalar>, into out: inout [ArraySlice<Unicode.Scalar>]) {
        let scanner = Scanner(text: text)
        var i = text.startIndex
        while i < text.endIndex {
            let end: Int
            switch self {
            case .gpt2: end = scanner.gpt2Match(at: i)
            case .qwen2(let maxDigits): end = scanner.qwen2Match(at: i, maxDigits: maxDigits)
            }
            out.append(text[i..<end])
            i = end
        }
    }
}

/// Index-based scanning over one piece; each `...Match(at:)` returns the end of the match at `i`.
private struct Scanner {
    let text: ArraySlice<Unicode.Scalar>
    /// One class per code point of `text`, indexed like `text`.
    let classes: [CharClass]
    let base: Int

    init(text: ArraySlice<Unicode.Scalar>) {
        self.text = text
        self.base = text.startIndex
        self.classes = text.map(CharClass.of)
    }

    var end: Int { text.endIndex }
    func cls(_ i: Int) -> CharClass { classes[i - base] }

    /// End of the run of code points from `i` whose class satisfies `test`.
    func run(from i: Int, _ test: (CharClass) -> Bool) -> Int {
        var j = i
        while j < end && test(cls(j)) { j += 1 }
        return j
    }

    /// `'s|'t|'re|'ve|'m|'ll|'d`, ASCII case-folded when `ignoreCase` (Oniguruma also folds U+017F ſ to s).
    func contraction(at i: Int, ignoreCase: Bool) -> Int? {
        guard text[i] == "'", i + 1 < end else { return nil }
        func lower(_ k: Int) -> UInt32 {
            let v = text[k].value
            guard ignoreCase else { return v }
            if v == 0x17F { return 0x73 }
            return (v >= 0x41 && v <= 0x5A) ? v + 32 : v
        }
        switch lower(i + 1) {
        case 0x73, 0x74, 0x6D, 0x64: return i + 2  // s t m d
        default: break
        }
        guard i + 2 < end else { return nil }
        switch (lower(i + 1), lower(i + 2)) {
        case (0x72, 0x65), (0x76, 0x65), (0x6C, 0x6C): return i + 3  // re ve ll
        default: return nil
        }
    }

    /// `\s+(?!\S)|\s+` at a whitespace code point: the whole run when it ends the text, else the run
    /// minus its last code point (which then prefixes the next word), but never less than one.
    func whitespaceMatch(at i: Int) -> Int {
        let k = run(from: i) { $0.has(.space) }
        if k == end || k - i == 1 { return k }
        return k - 1
    }

    func gpt2Match(at i: Int) -> Int {
        if let e = contraction(at: i, ignoreCase: false) { return e }
        // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: the class after an optional ASCII space decides.
        let j = (text[i] == " " && i + 1 < end) ? i + 1 : i
        let c = cls(j)
        if c.has(.letter) { return run(from: j) { $0.has(.letter) } }
        if c.has(.number) { return run(from: j) { $0.has(.number) } }
        if c.isOther { return run(from: j) { $0.isOther } }
        return whitespaceMatch(at: i)
    }

    func qwen2Match(at i: Int, maxDigits: Int) -> Int {
        if let e = contraction(at: i, ignoreCase: true) { return e }
        let c = cls(i)
        // `[^\r\n\p{L}\p{N}]?\p{L}+`
        if c.has(.letter) { return run(from: i) { $0.has(.letter) } }
        if !c.has(.newline) && !c.has(.number) && i + 1 < end && cls(i + 1).has(.letter) {
            return run(from: i + 1) { $0.has(.letter) }
        }
        // `\p{N}{1,maxDigits}`
        if c.has(.number) {
            var j = i
            while j < end && j - i < maxDigits && cls(j).has(.number) { j += 1 }
            return j
        }
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
        let j = (text[i] == " " && i + 1 < end && cls(i + 1).isOther) ? i + 1 : i
        if cls(j).isOther {
            let k = run(from: j) { $0.isOther }
            return run(from: k) { $0.has(.newline) }
        }
        // `\s*[\r\n]+`: up to and including the last CR/LF of the whitespace run.
        let k = run(from: i) { $0.has(.space) }
        var last = k - 1
        while last >= i && !cls(last).has(.newline) { last -= 1 }
        if last >= i { return last + 1 }
        return whitespaceMatch(at: i)
    }
}
