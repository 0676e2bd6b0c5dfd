import Foundation

/// Lines of a sampled answer that state one computation, `Step k: a op b = c` (the arithmetic
/// task's solution format), and how many of them state a wrong result: the per-line slip rate
/// that tells whether training makes the model compute each step more reliably, apart from
/// whether the final answer is right.
public struct StepLineTally: Codable, Equatable, Sendable {
    /// Lines that parse as a computation.
    public var lines = 0
    /// Of those, lines whose `c` is not `a op b` (division: not exact, or a wrong quotient).
    public var slips = 0

    public init(lines: Int = 0, slips: Int = 0) {
        self.lines = lines
        self.slips = slips
    }

    public static func + (a: StepLineTally, b: StepLineTally) -> StepLineTally {
        StepLineTally(lines: a.lines + b.lines, slips: a.slips + b.slips)
    }
}

public enum StepLineCheck {
    /// Tallies every line of `response` of the form `Step k: a op b = c` (integers, one of
    /// `+ - * /`, single spaces as the task writes them). Other lines (the final sentence, text
    /// the model made up) are not counted: a malformed line is a format slip, not a computation.
    public static func tally(_ response: String) -> StepLineTally {
        var t = StepLineTally()
        for line in response.split(separator: "\n", omittingEmptySubsequences: true) {
            guard let correct = isCorrectComputation(line) else { continue }
            t.lines += 1
            if !correct { t.slips += 1 }
        }
        return t
    }

    /// `true`/`false` for a computation line that is right/wrong, `nil` for any other line.
    static func isCorrectComputation<S: StringProtocol>(_ line: S) -> Bool? {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasPrefix("Step "), let colon = trimmed.firstIndex(of: ":") else { return nil }
        guard Int(trimmed[trimmed.index(trimmed.startIndex, offsetBy: 5)..<colon]) != nil else { return nil }
        let parts = trimmed[trimmed.index(after: colon)...].split(separator: " ")
        guard parts.count == 5, parts[3] == "=", let a = Int(parts[0]), let b = Int(parts[2]), let c = Int(parts[4]),
              let op = ArithmeticOperation(rawValue: String(parts[1])) else { return nil }
        switch op {
        case .divide: return b != 0 && a % b == 0 && a / b == c
        default:
            let (value, overflow) = op == .add ? a.addingReportingOverflow(b)
                : op == .subtract ? a.subtractingReportingOverflow(b) : a.multipliedReportingOverflow(by: b)
            return !overflow && value == c
        }
    }
}
