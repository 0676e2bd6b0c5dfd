/// SplitMix64: deterministic test data independent of the platform's generator, so a failure
/// reproduces exactly. One implementation for every test target.
public struct TestRNG {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// Uniform in [-scale, scale), rounded to Float so a Double reference sees the same inputs.
    public mutating func floats(_ n: Int, scale: Float = 1) -> [Float] {
        (0..<n).map { _ in Float(unit() * 2 - 1) * scale }
    }

    /// Uniform in [-1, 1) on the float grid of 2^-23.
    public mutating func symmetric() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }

    /// Uniform in 0..<max(1, n).
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }

    public mutating func ids(_ n: Int, below bound: Int) -> [Int32] {
        (0..<n).map { _ in Int32(next() % UInt64(bound)) }
    }
}
