import Foundation

/// Seeded mutations of a file's bytes, for the fuzz loop that needs no libFuzzer: bit flips,
/// truncations, overwritten length bytes, digits replaced by huge numbers (sizes in JSON), and
/// slices repeated. Each case depends only on (seed, case number): a finding reproduces.
public struct Mutator {
    var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// SplitMix64.
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }

    static let hugeNumbers = ["2147483648", "1099511627776", "4611686018427387904", "-1", "0", "1e308", "-1e30",
                              "99999999999999999999999", "NaN"]

    public mutating func mutate(_ original: Data) -> Data {
        var bytes = [UInt8](original)
        guard !bytes.isEmpty else { return Data([UInt8(truncatingIfNeeded: next())]) }
        switch below(5) {
        case 0:
            for _ in 0..<(1 + below(8)) { bytes[below(bytes.count)] ^= UInt8(1 << below(8)) }
        case 1:
            bytes = Array(bytes.prefix(below(bytes.count)))
        case 2:
            // A byte after a protobuf length-delimited tag (wire type 2), or anywhere: a new length.
            var i = below(bytes.count)
            while i < bytes.count - 1, bytes[i] & 7 != 2 { i += 1 }
            if i + 1 < bytes.count { bytes[i + 1] = UInt8(truncatingIfNeeded: next()) }
        case 3:
            // A run of digits (a size, an id, a count in JSON or text) replaced by an extreme number.
            let digits = bytes.indices.filter { bytes[$0] >= 48 && bytes[$0] <= 57 }
            if let at = digits.isEmpty ? nil : digits[below(digits.count)] {
                var end = at
                while end < bytes.count, bytes[end] >= 48 && bytes[end] <= 57 { end += 1 }
                var start = at
                while start > 0, bytes[start - 1] >= 48 && bytes[start - 1] <= 57 { start -= 1 }
                bytes.replaceSubrange(start..<end, with: Array(Self.hugeNumbers[below(Self.hugeNumbers.count)].utf8))
            }
        default:
            // A slice repeated in place (duplicated keys, nested structures, longer strings).
            let start = below(bytes.count), length = 1 + below(min(256, bytes.count - start))
            bytes.insert(contentsOf: bytes[start..<(start + length)], at: start)
        }
        return Data(bytes)
    }
}
