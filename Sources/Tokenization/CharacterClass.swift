/// The character classes the pre-tokenizer patterns test, as bit flags per code point:
/// `\p{L}` = general category L*, `\p{N}` = N*, `\s` = Unicode White_Space (what Oniguruma and the
/// Rust regex crate both mean by `\s`), and CR/LF for the `[\r\n]` parts of the Qwen2 pattern.
struct CharClass: OptionSet {
    let rawValue: UInt8
    static let letter = CharClass(rawValue: 1)
    static let number = CharClass(rawValue: 2)
    static let space = CharClass(rawValue: 4)
    static let newline = CharClass(rawValue: 8)  // \r or \n (also in .space)

    /// `[^\s\p{L}\p{N}]`: punctuation, symbols, marks, controls, emoji...
    var isOther: Bool { rawValue & 0b0111 == 0 }

    /// A plain bit test (`contains` goes through the generic SetAlgebra witness in hot loops).
    @inline(__always) func has(_ other: CharClass) -> Bool { rawValue & other.rawValue != 0 }

    private static let ascii: [CharClass] = (0..<128).map { classify(slow: Unicode.Scalar(UInt8($0))) }

    static func of(_ scalar: Unicode.Scalar) -> CharClass {
        scalar.value < 128 ? ascii[Int(scalar.value)] : classify(slow: scalar)
    }

    private static func classify(slow scalar: Unicode.Scalar) -> CharClass {
        let properties = scalar.properties
        if properties.isWhitespace {
            return scalar == "\r" || scalar == "\n" ? [.space, .newline] : .space
        }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return []
        }
    }

    /// `\w` of the Rust regex crate (used by `single_word`): Alphabetic, marks, decimal digits,
    /// connector punctuation and the join controls.
    static func isWordCharacter(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.value < 128 {
            let v = UInt8(scalar.value)
            return (v >= 0x30 && v <= 0x39) || (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A) || v == 0x5F
        }
        let p = scalar.properties
        if p.isAlphabetic || p.isJoinControl { return true }
        switch p.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }
}
