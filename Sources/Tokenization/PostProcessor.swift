/// What `encode(addSpecialTokens: true)` adds around the model's ids. `ByteLevel` only trims
/// offsets (which this module does not produce), so it leaves ids alone.
indirect enum PostProcessor: Sendable {
    case none
    /// The `single` template: fixed ids, with nil marking where the text's ids go.
    case template([[Int]?])
    case sequence([PostProcessor])

    init(_ config: PostProcessorConfig?) {
        switch config {
        case nil, .byteLevel?: self = .none
        case let .template(single)?: self = .template(single)
        case let .sequence(list)?: self = .sequence(list.map { PostProcessor($0) })
        }
    }

    func apply(_ ids: [Int]) -> [Int] {
        switch self {
        case .none:
            return ids
        case let .template(pieces):
            return pieces.flatMap { $0 ?? ids }
        case let .sequence(steps):
            return steps.reduce(ids) { $1.apply($0) }
        }
    }
}

/// Token strings back to text. `ByteLevel`: a token whose code points are all in the byte-level table
/// becomes those bytes, any other token (an added token such as "<|im_end|>" that is not) its own
/// UTF-8; the bytes of all tokens are then read as UTF-8, invalid sequences becoming U+FFFD.
/// Without a decoder the library joins tokens with spaces.
enum TokenDecoder: Sendable {
    case byteLevel
    case joinWithSpaces

    init(_ config: DecoderConfig?) {
        self = config == nil ? .joinWithSpaces : .byteLevel
    }

    /// The bytes each token contributes, computed once per vocabulary entry.
    func bytes(of token: String) -> [UInt8] {
        switch self {
        case .joinWithSpaces:
            return Array(token.utf8)
        case .byteLevel:
            var out: [UInt8] = []
            for scalar in token.unicodeScalars {
                guard let byte = ByteLevelTable.byte(for: scalar) else { return Array(token.utf8) }
                out.append(byte)
            }
            return out
        }
    }

    var separator: [UInt8] { self == .joinWithSpaces ? [0x20] : [] }
}
