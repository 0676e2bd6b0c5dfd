import ArgumentParser
import Foundation
import TreeRPO

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Make datasets.",
        subcommands: [DataArithmetic.self]
    )
}

struct DataArithmetic: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "arithmetic",
        abstract: "Write multi-step arithmetic word problems as JSONL (fields question, answer, final).",
        discussion: """
            Deterministic by --seed. "answer" is the step-by-step solution ending in \
            "The answer is N.", "final" the number. Without --out the lines go to stdout.
            """
    )

    @Option(help: "Random seed.")
    var seed: UInt64 = 0

    @Option(help: "Number of problems.")
    var count = 1000

    @Option(help: "Output file (written to a temporary name, then renamed). Default: stdout.")
    var out: String?

    @Option(help: "Operations per problem: a number (3) or a range (2-4).")
    var steps = "2-4"

    @Option(help: "Largest starting number and largest operand of + and -.")
    var maxNumber = 20

    @Option(help: "Largest multiplier or divisor.")
    var maxFactor = 9

    @Option(help: "Largest intermediate result (default: max(100, max-number squared)).")
    var maxResult: Int?

    @Option(help: "Operations to use, any of + - * / (division is always exact).")
    var operations = "+-*/"

    func parsedSteps() throws -> ClosedRange<Int> {
        let parts = steps.split(separator: "-", omittingEmptySubsequences: false)
        let numbers = parts.compactMap { Int($0) }
        guard numbers.count == parts.count, (1...2).contains(numbers.count), numbers[0] <= numbers[numbers.count - 1] else {
            throw ValidationError("--steps: expected a number or a range such as 2-4, got \(steps.debugDescription)")
        }
        return numbers[0]...numbers[numbers.count - 1]
    }

    func task() throws -> ArithmeticTask {
        guard let ops = ArithmeticOperation.parseList(operations) else {
            throw ValidationError("--operations: expected characters from + - * /, got \(operations.debugDescription)")
        }
        let task = ArithmeticTask(steps: try parsedSteps(), maxNumber: maxNumber, maxFactor: maxFactor,
                                  maxResult: maxResult, operations: ops)
        do {
            try task.validate()
        } catch {
            throw ValidationError("\(error)")
        }
        return task
    }

    func validate() throws {
        guard count >= 1 else { throw ValidationError("--count must be at least 1, got \(count)") }
        _ = try task()
    }

    func run() throws {
        let problems = try task().generate(count: count, seed: seed)
        if let out {
            let url = URL(fileURLWithPath: out)
            try Dataset.writeArithmetic(problems, to: url)
            let mean = Double(problems.reduce(0) { $0 + $1.steps.count }) / Double(problems.count)
            print("wrote \(problems.count) problems to \(out) (seed \(seed), \(String(format: "%.2f", mean)) steps on average)")
        } else {
            FileHandle.standardOutput.write(try Dataset.arithmeticJSONL(problems))
        }
    }
}
