import Foundation
import Testing
import Tensors

/// Deterministic test data (SplitMix64), so a failure reproduces exactly.
struct TestRNG {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [-scale, scale), rounded to Float so the Double reference sees the same inputs.
    mutating func floats(_ n: Int, scale: Float = 1) -> [Float] {
        (0..<n).map { _ in Float(Double(next() >> 11) / Double(1 << 53) * 2 - 1) * scale }
    }

    mutating func ids(_ n: Int, below bound: Int) -> [Int32] {
        (0..<n).map { _ in Int32(next() % UInt64(bound)) }
    }
}

extension Array where Element == Float {
    var doubles: [Double] { map(Double.init) }
}

/// Checks |fast - reference| <= atol + rtol * |reference| elementwise and reports the worst
/// element (index, both values) when it fails.
func expectClose(
    _ fast: [Float], _ reference: [Double], atol: Double, rtol: Double, _ what: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    expectClose(fast.doubles, reference, atol: atol, rtol: rtol, what, sourceLocation: sourceLocation)
}

func expectClose(
    _ actual: [Double], _ reference: [Double], atol: Double, rtol: Double, _ what: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard actual.count == reference.count else {
        Issue.record("\(what): \(actual.count) values, reference has \(reference.count)", sourceLocation: sourceLocation)
        return
    }
    var worst = (index: -1, excess: 0.0)
    for i in actual.indices {
        let err = abs(actual[i] - reference[i])
        let allowed = atol + rtol * abs(reference[i])
        if !(err <= allowed) && (worst.index < 0 || err - allowed > worst.excess) {
            worst = (i, err - allowed)
        }
    }
    if worst.index >= 0 {
        let i = worst.index
        Issue.record(
            "\(what): element \(i) is \(actual[i]), reference \(reference[i]) (|diff| \(abs(actual[i] - reference[i])), allowed \(atol) + \(rtol) * |ref|)",
            sourceLocation: sourceLocation)
    }
}

/// Gradient of L(x) = sum_i w[i] * f(x)[i] by central differences in double precision.
func finiteDifferenceGradient(_ x: [Double], weights w: [Double], step h: Double = 1e-5, _ f: ([Double]) -> [Double]) -> [Double] {
    var grad = [Double](repeating: 0, count: x.count)
    var xp = x
    for i in x.indices {
        xp[i] = x[i] + h
        let plus = zip(f(xp), w).map(*).reduce(0, +)
        xp[i] = x[i] - h
        let minus = zip(f(xp), w).map(*).reduce(0, +)
        xp[i] = x[i]
        grad[i] = (plus - minus) / (2 * h)
    }
    return grad
}

/// The shapes every kernel is tried on: degenerate, odd, just past a power of two.
let oddSizes = [1, 7, 33, 257]

/// Tests that change `Compute.threads` run one at a time.
let threadSettingLock = NSLock()
