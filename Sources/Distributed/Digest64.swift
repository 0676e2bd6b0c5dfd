/// FNV-1a, 64-bit: a cheap fingerprint for checking that the ranks of a job run the same
/// program on the same inputs (not a cryptographic hash).
public struct Digest64 {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    public mutating func add<Bytes: Sequence>(bytes: Bytes) where Bytes.Element == UInt8 {
        for b in bytes { value = (value ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
    }

    /// The string's UTF-8 bytes and a terminating 0, so ("ab", "c") and ("a", "bc") differ.
    public mutating func add(_ text: String) {
        add(bytes: text.utf8)
        add(bytes: [0])
    }
}
