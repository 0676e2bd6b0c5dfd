import Testing

/// How close a value must be to its reference. Element i passes when
///   |actual_i - reference_i| <= absolute + relative * |reference_i| + ofLargest * max_j |reference_j|
/// and both values are finite. `ofLargest` is the per-tensor form (logits, gradients whose
/// entries share one scale); `relative` the per-element form (small bias gradients next to
/// large weight gradients).
public struct Tolerance: Sendable, CustomStringConvertible {
    public var absolute: Double
    public var relative: Double
    public var ofLargest: Double

    public init(absolute: Double = 0, relative: Double = 0, ofLargest: Double = 0) {
        self.absolute = absolute
        self.relative = relative
        self.ofLargest = ofLargest
    }

    public static func elementwise(absolute: Double = 0, relative: Double) -> Tolerance {
        Tolerance(absolute: absolute, relative: relative)
    }

    /// |diff| <= fraction * max |reference|.
    public static func ofLargest(_ fraction: Double) -> Tolerance { Tolerance(ofLargest: fraction) }

    public var description: String {
        var parts: [String] = []
        if absolute > 0 { parts.append("\(absolute)") }
        if relative > 0 { parts.append("\(relative) x |reference_i|") }
        if ofLargest > 0 { parts.append("\(ofLargest) x max|reference|") }
        return parts.isEmpty ? "0" : parts.joined(separator: " + ")
    }
}

/// A running comparison of values against references that, unlike `max(worst, err)` (which
/// drops NaN: `max(0, .nan)` is 0 and `NaN > tol` is false), fails on any non-finite value on
/// either side, fails when nothing was compared, and reports the worst element: its index and
/// both values. Feed it element by element or row by row, then ask `failure(_:)`.
public struct NumericComparison: Sendable {
    public struct Element: Sendable {
        public var index: Int
        public var actual: Double
        public var reference: Double
        /// |actual - reference| minus the element's own part of the tolerance.
        public var excess: Double
    }

    public let tolerance: Tolerance
    public private(set) var count = 0
    public private(set) var largestReference = 0.0
    public private(set) var largestError = 0.0
    public private(set) var worst: Element?
    public private(set) var firstNonFinite: Element?
    /// Set when two sequences of different lengths were added.
    public private(set) var lengthMismatch: (actual: Int, reference: Int)?

    public init(_ tolerance: Tolerance) { self.tolerance = tolerance }

    public mutating func add(_ actual: Double, _ reference: Double) {
        defer { count += 1 }
        guard actual.isFinite && reference.isFinite else {
            if firstNonFinite == nil { firstNonFinite = Element(index: count, actual: actual, reference: reference, excess: .nan) }
            return
        }
        let error = abs(actual - reference)
        largestReference = Swift.max(largestReference, abs(reference))
        largestError = Swift.max(largestError, error)
        let excess = error - tolerance.absolute - tolerance.relative * abs(reference)
        if worst == nil || excess > worst!.excess {
            worst = Element(index: count, actual: actual, reference: reference, excess: excess)
        }
    }

    public mutating func add<A: Collection, R: Collection>(_ actual: A, _ reference: R)
    where A.Element: BinaryFloatingPoint, R.Element: BinaryFloatingPoint {
        if actual.count != reference.count, lengthMismatch == nil { lengthMismatch = (actual.count, reference.count) }
        for (a, r) in zip(actual, reference) { add(Double(a), Double(r)) }
    }

    /// The largest |diff| over the largest |reference|: the number to print when it passes.
    public var relativeError: Double { largestReference > 0 ? largestError / largestReference : largestError }

    public var passes: Bool { failure("") == nil }

    /// nil when every element passed; otherwise what failed, starting with `what`.
    public func failure(_ what: String) -> String? {
        if let (a, r) = lengthMismatch { return "\(what): \(a) values, reference has \(r)" }
        if count == 0 { return "\(what): nothing was compared" }
        if let e = firstNonFinite {
            return "\(what): element \(e.index) is not finite: \(e.actual), reference \(e.reference)"
        }
        if tolerance.ofLargest > 0 && !(largestReference > 0) {
            return "\(what): the reference is all zero, so a tolerance relative to it checks nothing"
        }
        guard let w = worst else { return "\(what): nothing finite was compared" }
        let shared = tolerance.ofLargest * largestReference
        if w.excess <= shared { return nil }
        let allowed = tolerance.absolute + tolerance.relative * abs(w.reference) + shared
        return "\(what): worst element \(w.index) is \(w.actual), reference \(w.reference) (|diff| \(abs(w.actual - w.reference)) > allowed \(allowed) = \(tolerance); max |reference| \(largestReference), \(count) compared)"
    }
}

/// Records an issue naming the worst element when `actual` is not within `tolerance` of
/// `reference` (or holds a non-finite value, or the lengths differ, or both are empty).
public func expectClose<A: Collection, R: Collection>(
    _ actual: A, _ reference: R, _ tolerance: Tolerance, _ what: @autoclosure () -> String,
    sourceLocation: SourceLocation = #_sourceLocation
) where A.Element: BinaryFloatingPoint, R.Element: BinaryFloatingPoint {
    var comparison = NumericComparison(tolerance)
    comparison.add(actual, reference)
    comparison.expectPasses(what(), sourceLocation: sourceLocation)
}

extension NumericComparison {
    /// Records an issue with `failure(what)` when the comparison did not pass.
    public func expectPasses(_ what: @autoclosure () -> String, sourceLocation: SourceLocation = #_sourceLocation) {
        if let message = failure(what()) { Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation) }
    }
}

/// `expectClose` with the per-element tolerance spelled as atol / rtol.
public func expectClose<A: Collection, R: Collection>(
    _ actual: A, _ reference: R, atol: Double, rtol: Double, _ what: @autoclosure () -> String,
    sourceLocation: SourceLocation = #_sourceLocation
) where A.Element: BinaryFloatingPoint, R.Element: BinaryFloatingPoint {
    expectClose(actual, reference, .elementwise(absolute: atol, relative: rtol), what(), sourceLocation: sourceLocation)
}
