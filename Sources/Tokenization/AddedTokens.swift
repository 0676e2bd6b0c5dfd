/// Tokens from `added_tokens`, found in the text before pre-tokenization. As in the library: tokens
/// with `normalized: false` are matched in the raw text, the others in the normalized text; at each
/// position the leftmost, then longest token wins; `single_word` skips a match touching a word
/// character (`\w`) on either side; `lstrip` / `rstrip` take the whitespace on that side into the token.
struct AddedTokenMatcher: Sendable {
    struct Token: Sendable {
        var id: Int
        var singleWord: Bool
        var lstrip: Bool
        var rstrip: Bool
    }

    /// A byte trie over the tokens' UTF-8: `edges[node]` maps a byte to the next node; `tokenAt[node]`
    /// is the token ending there, if any. Node 0 is the root.
    private var edges: [[UInt8: Int32]] = [[:]]
    private var tokenAt: [Int32] = [-1]
    private var tokens: [Token] = []
    private var firstBytes = [Bool](repeating: false, count: 256)

    var isEmpty: Bool { tokens.isEmpty }

    mutating func insert(_ content: String, _ token: Token) {
        guard !content.isEmpty else { return }
        var node = 0
        for byte in content.utf8 {
            if let next = edges[node][byte] {
                node = Int(next)
            } else {
                edges.append([:])
                tokenAt.append(-1)
                edges[node][byte] = Int32(edges.count - 1)
                node = edges.count - 1
            }
        }
        if tokenAt[node] < 0 {
            tokens.append(token)
            tokenAt[node] = Int32(tokens.count - 1)
        } else {
            tokens[Int(tokenAt[node])] = token
        }
        firstBytes[Int(content.utf8.first!)] = true
    }

    /// Longest token starting at byte `i`: (end, token index).
    private func longestMatch(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> (Int, Int)? {
        var node = 0
        var best: (Int, Int)?
        var j = i
        while j < bytes.count, let next = edges[node][bytes[j]] {
            node = Int(next)
            j += 1
            if tokenAt[node] >= 0 { best = (j, Int(tokenAt[node])) }
        }
        return best
    }

    /// A piece of text: either plain text (`id == nil`) or one added token.
    struct Piece {
        var range: Range<Int>
        var id: Int?
    }

    /// Splits UTF-8 `bytes` into plain pieces and added tokens; no piece is empty.
    func split(_ bytes: UnsafeBufferPointer<UInt8>) -> [Piece] {
        guard !tokens.isEmpty else { return bytes.isEmpty ? [] : [Piece(range: 0..<bytes.count, id: nil)] }
        var pieces: [Piece] = []
        var offset = 0  // end of the last emitted piece
        var i = 0
        while i < bytes.count {
            guard firstBytes[Int(bytes[i])], let (stop0, index) = longestMatch(bytes, at: i) else {
                i += 1
                continue
            }
            let token = tokens[index]
            var start = i
            var stop = stop0
            if token.singleWord {
                let before = start > 0 ? scalar(endingAt: start, bytes) : nil
                let after = stop < bytes.count ? scalar(startingAt: stop, bytes) : nil
                if before.map({ CharClass.isWordCharacter($0.scalar) }) == true
                    || after.map({ CharClass.isWordCharacter($0.scalar) }) == true {
                    i = stop0  // the matcher moves past a match even when it is discarded
                    continue
                }
            }
            if token.lstrip {
                while start > offset, let s = scalar(endingAt: start, bytes), s.scalar.properties.isWhitespace {
                    start -= s.length
                }
            }
            if token.rstrip {
                while stop < bytes.count, let s = scalar(startingAt: stop, bytes), s.scalar.properties.isWhitespace {
                    stop += s.length
                }
            }
            if offset < start { pieces.append(Piece(range: offset..<start, id: nil)) }
            pieces.append(Piece(range: start..<stop, id: token.id))
            offset = stop
            i = max(stop, stop0)
        }
        if offset < bytes.count { pieces.append(Piece(range: offset..<bytes.count, id: nil)) }
        return pieces
    }

    private func scalar(startingAt i: Int, _ bytes: UnsafeBufferPointer<UInt8>) -> (scalar: Unicode.Scalar, length: Int)? {
        var iterator = bytes[i...].makeIterator()
        var decoder = UTF8()
        if case let .scalarValue(s) = decoder.decode(&iterator) { return (s, UTF8.width(s)) }
        return nil
    }

    private func scalar(endingAt i: Int, _ bytes: UnsafeBufferPointer<UInt8>) -> (scalar: Unicode.Scalar, length: Int)? {
        var start = i - 1
        while start > 0 && bytes[start] & 0xC0 == 0x80 && i - start < 4 { start -= 1 }
        return scalar(startingAt: start, bytes)
    }
}
