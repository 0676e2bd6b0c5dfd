import ArgumentParser
import Foundation
import TreeRPO

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Before/after table of two `eval --json` results on the same questions, with the change of Pass@1 and its uncertainty.",
        discussion: """
            The change's standard error is paired over questions (each question's change of \
            Pass@1, their spread over the square root of their number); the 95% interval is \
            1.96 of them either side. Each evaluation's own sampling noise is shown beside it.
            """
    )

    @Argument(help: "eval --json output of the model before.") var before: String
    @Argument(help: "eval --json output of the model after.") var after: String

    @Flag(help: "Print the comparison as one JSON object.") var json = false

    func run() throws {
        func load(_ path: String) throws -> EvaluationResult {
            try JSONDecoder().decode(EvaluationResult.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        }
        let c = try EvaluationComparison(before: try load(before), after: try load(after))
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(c), as: UTF8.self))
            return
        }
        func pct(_ x: Double) -> String { String(format: "%.1f%%", 100 * x) }
        func noise(_ e: EvaluationResult) -> String { e.pass1StandardError.map { String(format: " +-%.1f", 100 * $0) } ?? "" }
        func change(_ x: Double) -> String { String(format: "%+.1f", 100 * x) }
        let b = c.before, a = c.after
        func answeredRow(_ b: EvaluationResult, _ a: EvaluationResult) -> [[String]] {
            guard let x = b.answered, let y = a.answered else { return [] }  // results from before the field
            return [["answered (marked answer)", pct(x), pct(y), change(y - x)]]
        }
        print(Table.render(header: ["", "before", "after", "change (points)"], rows: [
            ["Pass@1", pct(b.pass1) + noise(b), pct(a.pass1) + noise(a),
             change(c.pass1Change) + String(format: " +-%.1f (95%%: %+.1f to %+.1f)", 100 * c.pass1ChangeStandardError,
                                            100 * c.pass1ChangeLow, 100 * c.pass1ChangeHigh)],
            ["Pass@\(a.k)", pct(b.passK), pct(a.passK), change(a.passK - b.passK)],
            ["maj@\(a.k)", pct(b.majK), pct(a.majK), change(a.majK - b.majK)],
            ["mean answer tokens", String(format: "%.1f", b.meanResponseTokens), String(format: "%.1f", a.meanResponseTokens),
             String(format: "%+.1f", a.meanResponseTokens - b.meanResponseTokens)],
        ] + answeredRow(b, a)))
        print("\(a.questions) held-out questions x \(a.k) samples; +- is one standard error (beside Pass@1: that evaluation's sampling noise; on the change: paired over questions)")
    }
}
