import Foundation

/// Splits normalized text into words for the model. Words are slices of code points; after a
/// `ByteLevel` step they hold one byte-level code point per UTF-8 byte (see `ByteLevelTable`).
indirect enum PreTokenizer: Sendable {
    /// `add_prefix_space`: a word not starting with " " gets one (per piece, as the library does);
    /// `use_regex`: split with the GPT-2 pattern first.
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    case split(SplitPattern)
    /// Numbers (general category N*, Rust's `char::is_numeric`) apart from the rest: each one
    /// alone (`individual`) or runs of them together.
    case digits(individual: Bool)
    case sequence([PreTokenizer])

    init(_ config: PreTokenizerConfig) {
        switch config {
        case let .byteLevel(addPrefixSpace, useRegex): self = .byteLevel(addPrefixSpace: addPrefixSpace, useRegex: useRegex)
        case let .split(pattern): self = .split(pattern)
        case let .digits(individual): self = .digits(individual: individual)
        case let .sequence(list): self = .sequence(list.map(PreTokenizer.init))
        }
    }

    /// Replaces `words` by their splits; empty words are dropped, as in the library.
    func apply(_ words: inout [ArraySlice<Unicode.Scalar>]) {
        switch self {
        case let .sequence(steps):
            for step in steps { step.apply(&words) }
        case let .split(pattern):
            var out: [ArraySlice<Unicode.Scalar>] = []
            out.reserveCapacity(words.count * 4)
            for word in words where !word.isEmpty { pattern.split(word, into: &out) }
            words = out
        case let .digits(individual):
            var out: [ArraySlice<Unicode.Scalar>] = []
            out.reserveCapacity(words.count * 2)
            for word in words where !word.isEmpty {
                var i = word.startIndex
                while i < word.endIndex {
                    let isNumber = CharClass.of(word[i]).has(.number)
                    var end = i + 1
                    if !isNumber || !individual {
                        while end < word.endIndex, CharClass.of(word[end]).has(.number) == isNumber { end += 1 }
                    }
                    out.append(word[i..<end])
                    i = end
                }
            }
            words = out
        case let .byteLevel(addPrefixSpace, useRegex):
            var pieces: [ArraySlice<Unicode.Scalar>] = []
            pieces.reserveCapacity(words.count * 4)
            for word in words where !word.isEmpty {
                if addPrefixSpace && word.first != " " {
                    let spaced = ArraySlice([" "] + word)
                    if useRegex { SplitPattern.gpt2.split(spaced, into: &pieces) } else { pieces.append(spaced) }
                } else {
                    if useRegex { SplitPattern.gpt2.split(word, into: &pieces) } else { pieces.append(word) }
                }
            }
            // All pieces share one buffer of byte-level code points.
            var mapped: [Unicode.Scalar] = []
            mapped.reserveCapacity(pieces.reduce(0) { $0 + $1.count } * 2)
            var bounds: [Int] = [0]
            for piece in pieces {
                ByteLevelTable.map(piece, into: &mapped)
                bounds.append(mapped.count)
            }
            words = (0..<pieces.count).map { mapped[bounds[$0]..<bounds[$0 + 1]] }
        }
    }
}

/// Unicode normalization forms; ASCII text is left as is since every form maps it to itself.
indirect enum Normalizer: Sendable {
    case nfc, nfd, nfkc, nfkd
    case sequence([Normalizer])

    init(_ config: NormalizerConfig) {
        switch config {
        case .nfc: self = .nfc
        case .nfd: self = .nfd
        case .nfkc: self = .nfkc
        case .nfkd: self = .nfkd
        case let .sequence(list): self = .sequence(list.map(Normalizer.init))
        }
    }

    func apply(_ text: String) -> String {
        if case let .sequence(steps) = self { return steps.reduce(text) { $1.apply($0) } }
        if text.utf8.allSatisfy({ $0 < 0x80 }) { return text }
        switch self {
        case .nfc: return text.precomposedStringWithCanonicalMapping
        case .nfd: return text.decomposedStringWithCanonicalMapping
        case .nfkc: return text.precomposedStringWithCompatibilityMapping
        case .nfkd: return text.decomposedStringWithCompatibilityMapping
        case .sequence: return text
        }
    }
}
