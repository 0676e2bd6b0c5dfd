/// A seeded, splittable random number generator (SplitMix64).
///
/// `RandomStream(seed:stream:)` gives each sequence its own stream derived from the run's seed
/// and the sequence's index, so what a sequence samples does not depend on which other
/// sequences share its batch. `split()` derives a child stream (a tree branch forking).
public struct RandomStream: RandomNumberGenerator, Equatable, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// Stream `stream` of `seed`: the two are mixed so that neighbouring seeds and streams are
    /// unrelated.
    public init(seed: UInt64, stream: UInt64) {
        state = Self.mix(seed &+ Self.mix(stream &+ 0x9E37_79B9_7F4A_7C15))
    }

    /// SplitMix64's finaliser.
    @inline(__always)
    static func mix(_ z0: UInt64) -> UInt64 {
        var z = z0
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    /// Uniform in [0, 1) with 24 random bits (every value exactly representable in Float).
    public mutating func nextUnitFloat() -> Float {
        Float(next() >> 40) * (1 / Float(1 << 24))
    }

    /// A new independent stream; this one advances by one draw.
    public mutating func split() -> RandomStream {
        RandomStream(seed: next(), stream: 0x5851_F42D_4C95_7F2D)
    }
}
