import Foundation
import Testing
@testable import TreeRPO

/// The exact-match verifier on tricky responses: each row is (response, reference, correct?).
/// References come in every form a dataset gives them: plain, GSM8K `#### x`, MATH `\boxed{}`.
@Suite struct VerifierTests {
    struct Case: CustomStringConvertible {
        var response: String
        var reference: String
        var correct: Bool
        var why: String
        var description: String { "\(why): \(response.debugDescription) vs \(reference.debugDescription)" }
    }

    static let cases: [Case] = [
        // Positive: same number, different spelling.
        Case(response: "12 + 30 = 42. The answer is 42.", reference: "42", correct: true, why: "answer-is with full stop"),
        Case(response: "So we get \\boxed{42}", reference: "Natalia sold 48/2 = 24 clips.\n#### 42", correct: true, why: "GSM8K reference"),
        Case(response: "\\boxed{\\frac{1}{2}}", reference: "0.5", correct: true, why: "frac vs decimal"),
        Case(response: "\\boxed{\\dfrac{3}{4}}", reference: "0.75", correct: true, why: "dfrac"),
        Case(response: "The answer is 1,234.", reference: "1234", correct: true, why: "thousands separator in response"),
        Case(response: "#### 1234", reference: "1,234", correct: true, why: "thousands separator in reference"),
        Case(response: "\\boxed{1{,}234}", reference: "1234", correct: true, why: "LaTeX {,} separator"),
        Case(response: "The answer is $1,234.50.", reference: "1234.5", correct: true, why: "dollar, separator, trailing zero"),
        Case(response: "the ANSWER is 7", reference: "7.0", correct: true, why: "case-insensitive, trailing .0"),
        Case(response: "\\boxed{-3}", reference: "-3", correct: true, why: "negative"),
        Case(response: "\\boxed{-\\frac{2}{4}}", reference: "-1/2", correct: true, why: "negative unreduced frac"),
        Case(response: "\\boxed{\\frac{-1}{2}}", reference: "-0.5", correct: true, why: "sign inside frac"),
        Case(response: "The answer is 50%.", reference: "50", correct: true, why: "percent stripped"),
        Case(response: "\\boxed{50\\%}", reference: "50", correct: true, why: "LaTeX percent stripped"),
        Case(response: "\\boxed{x = 5}", reference: "5", correct: true, why: "variable assignment"),
        Case(response: "first \\boxed{3} then \\boxed{4}", reference: "4", correct: true, why: "last box wins"),
        Case(response: "\\boxed{\\frac{\\sqrt{3}}{2}}", reference: "so $\\boxed{\\dfrac{\\sqrt{3}}{2}}$.", correct: true, why: "non-numeric, normalised text"),
        Case(response: "The answer is .5", reference: "1/2", correct: true, why: "leading point"),
        Case(response: "The answer is 3.50.", reference: "3.5", correct: true, why: "trailing zero then full stop"),
        Case(response: "\\boxed{1\\frac{1}{2}}", reference: "3/2", correct: true, why: "mixed number"),
        Case(response: "The answer is 12 apples.", reference: "12", correct: true, why: "unit word"),
        Case(response: "\\boxed{10^\\circ}", reference: "10", correct: true, why: "degrees"),
        Case(response: "The answer is \u{2212}5.", reference: "-5", correct: true, why: "unicode minus"),
        Case(response: "The answer is +5", reference: "5", correct: true, why: "explicit plus"),
        Case(response: "\\boxed{1\\!000}", reference: "1000", correct: true, why: "LaTeX negative space"),
        Case(response: "The answer is 0", reference: "-0", correct: true, why: "signed zero"),
        Case(response: "\\boxed{\\frac12}", reference: "0.5", correct: true, why: "frac shorthand"),
        Case(response: "blah\n#### 72", reference: "72", correct: true, why: "GSM8K marker in response"),
        Case(response: "\\boxed{{42}}", reference: "42", correct: true, why: "double braces"),
        Case(response: "The answer is 3.5.", reference: "Thus the total is $\\boxed{\\frac{7}{2}}$.", correct: true, why: "MATH reference"),
        Case(response: "\\boxed{\\$18.90}", reference: "18.9", correct: true, why: "escaped dollar"),
        Case(response: "The answer is: 9.", reference: "9", correct: true, why: "colon"),
        Case(response: "\\boxed{12 + 3 = 15}", reference: "15", correct: true, why: "equation keeps right side"),
        Case(response: "The answer is 2/4", reference: "\\frac{1}{2}", correct: true, why: "slash fraction unreduced"),
        Case(response: "\\boxed{5}", reference: "#### 5.00", correct: true, why: "reference decimal zeros"),
        Case(response: "\\boxed{3}. Wait, no. The answer is 4.", reference: "4", correct: true, why: "later marker wins"),
        Case(response: "\\boxed{(1,2)}", reference: "(1, 2)", correct: true, why: "tuple as text"),
        Case(response: "The answer is 100,000", reference: "100000", correct: true, why: "two groups"),
        Case(response: "The answer is 0.10", reference: "0.1", correct: true, why: "trailing zero"),
        Case(response: "Step 1: 3 * 4 = 12\nThe answer is 12.", reference: "Step 1: 3 * 4 = 12\nThe answer is 12.", correct: true, why: "our arithmetic solution as reference"),
        Case(response: "\\boxed 7", reference: "7", correct: true, why: "boxed without braces"),
        Case(response: "The answer is 12345678901234567890123.", reference: "12,345,678,901,234,567,890,123", correct: true, why: "beyond Int64"),
        // Negative: never a substring or rounding match.
        Case(response: "The answer is 123.", reference: "12", correct: false, why: "12 is a prefix of 123"),
        Case(response: "The answer is 12.", reference: "123", correct: false, why: "123 contains 12"),
        Case(response: "\\boxed{1.2}", reference: "12", correct: false, why: "decimal point matters"),
        Case(response: "I think 42 is likely", reference: "42", correct: false, why: "no marker"),
        Case(response: "The answer is 1,23.", reference: "123", correct: false, why: "bad thousands grouping"),
        Case(response: "\\boxed{-42}", reference: "42", correct: false, why: "sign differs"),
        Case(response: "\\boxed{42}", reference: "-42", correct: false, why: "sign differs (reference)"),
        Case(response: "\\boxed{2x}", reference: "2", correct: false, why: "algebra is not a unit"),
        Case(response: "The answer is 5 and 6", reference: "5", correct: false, why: "two numbers"),
        Case(response: "\\boxed{1/0}", reference: "0", correct: false, why: "division by zero"),
        Case(response: "\\boxed{\\frac{1}{2}", reference: "1/2", correct: false, why: "unbalanced box"),
        Case(response: "The answer is 12.5", reference: "12", correct: false, why: "decimal differs"),
        Case(response: "#### 5\n#### 6", reference: "5", correct: false, why: "last marker is 6"),
        Case(response: "\\boxed{0.333333333333333333333}", reference: "\\frac{1}{3}", correct: false, why: "no rounding"),
        Case(response: "\\boxed{1,2}", reference: "12", correct: false, why: "comma list, not thousands"),
        Case(response: "\\boxed{}", reference: "0", correct: false, why: "empty box"),
        Case(response: "The answer is 1e3", reference: "1000", correct: false, why: "scientific notation not accepted"),
        Case(response: "\\boxed{x=5, y=6}", reference: "6", correct: false, why: "assignment list keeps both"),
        Case(response: "\\boxed{\\sqrt{2}}", reference: "2", correct: false, why: "root is not a number"),
    ]

    @Test(arguments: cases) func verdict(_ c: Case) {
        #expect(ExactMatchReward.isCorrect(response: c.response, reference: c.reference) == c.correct, "\(c)")
    }

    @Test func tableIsLarge() {
        #expect(Self.cases.count >= 40)
        #expect(Self.cases.filter(\.correct).count >= 15 && Self.cases.filter { !$0.correct }.count >= 15)
    }

    @Test func extraction() {
        #expect(AnswerExtraction.extract(from: "\\boxed{\\frac{a}{\\{b\\}}}")?.answer == "\\frac{a}{\\{b\\}}")
        #expect(AnswerExtraction.extract(from: "The answer is 3.5. Done")?.answer == "3.5")
        #expect(AnswerExtraction.extract(from: "The final answer is 7!")?.marker == .answerIs)
        #expect(AnswerExtraction.extract(from: "x\n#### 1,000 \nmore") == .init(answer: "1,000", marker: .hashes))
        #expect(AnswerExtraction.extract(from: "nothing here") == nil)
        #expect(AnswerExtraction.reference(from: "  42 ") == "42")
    }

    @Test func exactNumbers() throws {
        let big = try #require(NumberMatching.parse("123,456,789,012,345,678,901"))
        #expect(big.description == "123456789012345678901")
        #expect(NumberMatching.parse("-\\frac{6}{4}")?.doubleValue == -1.5)
        #expect(NumberMatching.parse("5.") == ExactNumber(5))
        #expect(NumberMatching.parse("2x") == nil)
        #expect(NumberMatching.parse("\\frac{1}{0}") == nil)
    }

    @Test func formatReward() {
        let reward = ExactMatchReward(formatReward: 0.1)
        let scores = reward.rewards([
            RewardQuery(question: "q", response: "The answer is 4.", reference: "4"),
            RewardQuery(question: "q", response: "The answer is 5.", reference: "4"),
            RewardQuery(question: "q", response: "four", reference: "4"),
        ])
        #expect(scores == [1.1, 0.1, 0])
        #expect(ExactMatchReward().rewards([RewardQuery(question: "q", response: "\\boxed{4}", reference: "#### 4")]) == [1])
    }
}
