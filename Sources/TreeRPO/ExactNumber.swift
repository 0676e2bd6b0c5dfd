/// Exact rational numbers for answer checking: `0.5 == 1/2 == \frac{2}{4}`, `12 != 123`.
///
/// Numbers are kept as sign, numerator and denominator of arbitrary size and compared by cross
/// multiplication, so no answer is ever rounded (a Double would call `0.1 + 0.2` and `0.3`
/// different and `2^53 + 1` equal to `2^53`).
public struct ExactNumber: Equatable, Sendable, CustomStringConvertible {
    public let negative: Bool
    let numerator: BigUInt
    let denominator: BigUInt

    /// `nil` when `denominator` is zero.
    init?(negative: Bool, numerator: BigUInt, denominator: BigUInt) {
        guard !denominator.isZero else { return nil }
        self.negative = negative && !numerator.isZero
        self.numerator = numerator
        self.denominator = denominator
    }

    public init(_ value: Int) {
        negative = value < 0
        numerator = BigUInt(value.magnitude)
        denominator = BigUInt(1)
    }

    public var isZero: Bool { numerator.isZero }

    public static func == (a: ExactNumber, b: ExactNumber) -> Bool {
        if a.isZero || b.isZero { return a.isZero && b.isZero }
        return a.negative == b.negative && a.numerator * b.denominator == b.numerator * a.denominator
    }

    /// `a / b` exactly; `nil` for a zero divisor.
    static func divide(_ a: ExactNumber, _ b: ExactNumber) -> ExactNumber? {
        ExactNumber(negative: a.negative != b.negative, numerator: a.numerator * b.denominator,
                    denominator: a.denominator * b.numerator)
    }

    /// `whole + fraction` for a non-negative mixed number such as `1\frac{1}{2}`.
    static func mixed(_ whole: ExactNumber, _ fraction: ExactNumber) -> ExactNumber? {
        let n = whole.numerator * fraction.denominator + fraction.numerator * whole.denominator
        return ExactNumber(negative: false, numerator: n, denominator: whole.denominator * fraction.denominator)
    }

    func negated(_ flag: Bool) -> ExactNumber {
        ExactNumber(negative: negative != flag, numerator: numerator, denominator: denominator)!
    }

    /// Approximate value, for display and metrics only.
    public var doubleValue: Double {
        (negative ? -1 : 1) * numerator.doubleValue / denominator.doubleValue
    }

    public var description: String {
        let sign = negative ? "-" : ""
        return denominator == BigUInt(1) ? "\(sign)\(numerator)" : "\(sign)\(numerator)/\(denominator)"
    }
}

/// A minimal unsigned arbitrary-precision integer: decimal parsing, add, multiply, compare.
/// Little-endian 32-bit limbs with no high zero limbs, so `==` on `limbs` is numeric equality.
struct BigUInt: Equatable, Sendable, CustomStringConvertible {
    private(set) var limbs: [UInt32] = []

    init(_ value: UInt) {
        var v = UInt64(value)
        while v > 0 {
            limbs.append(UInt32(truncatingIfNeeded: v))
            v >>= 32
        }
    }

    /// Decimal digits only (at least one); `nil` otherwise. Leading zeros are fine.
    init?<S: Sequence>(digits: S) where S.Element == Character {
        var any = false
        for c in digits {
            guard let d = c.wholeNumberValue, c.isASCII else { return nil }
            multiplyAdd(10, UInt32(d))
            any = true
        }
        guard any else { return nil }
    }

    var isZero: Bool { limbs.isEmpty }

    static func pow10(_ n: Int) -> BigUInt {
        var r = BigUInt(1)
        for _ in 0..<n { r.multiplyAdd(10, 0) }
        return r
    }

    mutating func multiplyAdd(_ m: UInt32, _ a: UInt32) {
        var carry = UInt64(a)
        for i in limbs.indices {
            let p = UInt64(limbs[i]) * UInt64(m) + carry
            limbs[i] = UInt32(truncatingIfNeeded: p)
            carry = p >> 32
        }
        if carry > 0 { limbs.append(UInt32(carry)) }
        normalize()
    }

    private mutating func normalize() {
        while let last = limbs.last, last == 0 { limbs.removeLast() }
    }

    static func * (a: BigUInt, b: BigUInt) -> BigUInt {
        if a.isZero || b.isZero { return BigUInt(0) }
        var out = [UInt32](repeating: 0, count: a.limbs.count + b.limbs.count)
        for i in a.limbs.indices {
            var carry: UInt64 = 0
            for j in b.limbs.indices {
                let t = UInt64(a.limbs[i]) * UInt64(b.limbs[j]) + UInt64(out[i + j]) + carry
                out[i + j] = UInt32(truncatingIfNeeded: t)
                carry = t >> 32
            }
            var k = i + b.limbs.count
            while carry > 0 {
                let t = UInt64(out[k]) + carry
                out[k] = UInt32(truncatingIfNeeded: t)
                carry = t >> 32
                k += 1
            }
        }
        var r = BigUInt(0)
        r.limbs = out
        r.normalize()
        return r
    }

    static func + (a: BigUInt, b: BigUInt) -> BigUInt {
        var out: [UInt32] = []
        var carry: UInt64 = 0
        for i in 0..<max(a.limbs.count, b.limbs.count) {
            let t = UInt64(i < a.limbs.count ? a.limbs[i] : 0) + UInt64(i < b.limbs.count ? b.limbs[i] : 0) + carry
            out.append(UInt32(truncatingIfNeeded: t))
            carry = t >> 32
        }
        if carry > 0 { out.append(UInt32(carry)) }
        var r = BigUInt(0)
        r.limbs = out
        r.normalize()
        return r
    }

    var doubleValue: Double {
        limbs.reversed().reduce(0.0) { $0 * 4_294_967_296.0 + Double($1) }
    }

    /// Repeated division by 10^9; only used for messages, so quadratic cost is fine.
    var description: String {
        if isZero { return "0" }
        var parts: [String] = []
        var rest = limbs
        while !rest.isEmpty {
            var remainder: UInt64 = 0
            for i in rest.indices.reversed() {
                let cur = (remainder << 32) | UInt64(rest[i])
                rest[i] = UInt32(cur / 1_000_000_000)
                remainder = cur % 1_000_000_000
            }
            while let last = rest.last, last == 0 { rest.removeLast() }
            parts.append(String(remainder))
        }
        var s = parts.removeLast()
        for p in parts.reversed() { s += String(repeating: "0", count: 9 - p.count) + p }
        return s
    }
}
