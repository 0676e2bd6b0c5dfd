import Foundation
import Sampling

/// Before/after of two evaluations on the same questions: the change of Pass@1 with its
/// uncertainty. The standard error is the paired one over questions (the spread of each
/// question's change, divided by the square root of their number): it counts the sampling noise
/// of both evaluations and how unevenly the change falls on the questions, and it is what a
/// new draw of held-out questions would move the change by.
public struct EvaluationComparison: Codable, Equatable, Sendable {
    public var before: EvaluationResult
    public var after: EvaluationResult
    /// after - before, Pass@1 (a fraction).
    public var pass1Change: Double
    public var pass1ChangeStandardError: Double
    /// 95% interval of the change (normal approximation, 1.96 standard errors).
    public var pass1ChangeLow: Double
    public var pass1ChangeHigh: Double

    public init(before: EvaluationResult, after: EvaluationResult) throws {
        guard let b = before.correctPerQuestion, let a = after.correctPerQuestion else {
            throw EvaluationError("comparison needs both evaluations' per-question counts (correct_per_question)", setting: .perQuestionCounts)
        }
        guard a.count == b.count, a.count >= 2 else {
            throw EvaluationError("comparison needs the same questions (at least 2) in both evaluations, found \(b.count) and \(a.count)")
        }
        let d = zip(a, b).map { Double($0) / Double(after.k) - Double($1) / Double(before.k) }
        let n = Double(d.count)
        let mean = d.reduce(0, +) / n
        let variance = d.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)
        self.before = before
        self.after = after
        pass1Change = mean
        pass1ChangeStandardError = (variance / n).squareRoot()
        pass1ChangeLow = mean - 1.96 * pass1ChangeStandardError
        pass1ChangeHigh = mean + 1.96 * pass1ChangeStandardError
    }
}
