import Foundation
import Testing
@testable import TreeRPO

/// The synthetic arithmetic task and JSONL datasets.
@Suite struct DatasetTests {
    static let task = ArithmeticTask(steps: 1...5, maxNumber: 30, operations: ArithmeticOperation.allCases)

    @Test func deterministicBySeed() throws {
        let a = try Self.task.generate(count: 50, seed: 42)
        let b = try Self.task.generate(count: 50, seed: 42)
        let c = try Self.task.generate(count: 50, seed: 43)
        #expect(a == b)
        #expect(a != c)
        let prefix = try Self.task.generate(count: 20, seed: 42)
        #expect(Array(a.prefix(20)) == prefix)  // prefix-stable
        // Pinned: a change to the generator (templates, RNG use) changes every corpus built from
        // a seed, so it must be deliberate.
        let first = try ArithmeticTask().generate(count: 1, seed: 1)[0]
        #expect(first.question == """
            Tom has 20 apples. The number of apples he has becomes 5 times as large. He gives away 15. \
            He uses 2 apples. He gets 17 more apples. How many apples does Tom have in the end?
            """)
        #expect(first.solution == "Step 1: 20 * 5 = 100\nStep 2: 100 - 15 = 85\nStep 3: 85 - 2 = 83\nStep 4: 83 + 17 = 100\nThe answer is 100.")
        #expect(first.answer == 100)
    }

    /// Recomputes every answer from the numbers in the question text alone, and checks each
    /// solution line and that the verifier reads the solution's final line as the answer.
    @Test func everyAnswerRecomputes() throws {
        let problems = try Self.task.generate(count: 500, seed: 7)
        var opsSeen = Set<String>()
        for (k, p) in problems.enumerated() {
            let numbers = p.question.split(whereSeparator: { !$0.isNumber }).map { Int($0)! }
            let lines = p.solution.split(separator: "\n").map(String.init)
            #expect(lines.count == numbers.count, "problem \(k): \(numbers.count) numbers in the question, \(lines.count) solution lines")
            guard lines.count == numbers.count, numbers.count >= 2 else { continue }
            var current = numbers[0]
            for (i, line) in lines.dropLast().enumerated() {
                // "Step i: a op b = c"
                let parts = line.split(separator: " ")
                #expect(parts.count == 7 && parts[0] == "Step" && parts[1] == "\(i + 1):", "problem \(k) line \(i): \(line)")
                guard parts.count == 7, let a = Int(parts[2]), let b = Int(parts[4]), let c = Int(parts[6]) else { continue }
                #expect(a == current && b == numbers[i + 1], "problem \(k) line \(i) uses \(a), \(b); question gives \(current), \(numbers[i + 1])")
                let op = String(parts[3])
                opsSeen.insert(op)
                let expected: Int
                switch op {
                case "+": expected = a + b
                case "-": expected = a - b
                case "*": expected = a * b
                case "/":
                    #expect(b != 0 && a % b == 0, "problem \(k): inexact division \(a) / \(b)")
                    expected = a / b
                default:
                    Issue.record("problem \(k): unknown operation \(op)")
                    continue
                }
                #expect(c == expected && c >= 1, "problem \(k) line \(i): \(line)")
                current = expected
            }
            #expect(current == p.answer, "problem \(k): recomputed \(current), answer \(p.answer)")
            #expect(lines.last == "The answer is \(p.answer).")
            #expect(ExactMatchReward.isCorrect(response: lines.last!, reference: String(p.answer)))
            #expect(ExactMatchReward.isCorrect(response: p.solution, reference: p.solution))
            #expect(!ExactMatchReward.isCorrect(response: "The answer is \(p.answer + 1).", reference: p.solution))
        }
        #expect(opsSeen == ["+", "-", "*", "/"])
        #expect(Set(problems.map { $0.steps.count }) == Set(1...5))
        #expect(Set(problems.map { String($0.question.prefix(12)) }).count > 10, "questions should vary")
    }

    @Test func operationKnobs() throws {
        let onlyDivide = try ArithmeticTask(steps: 2...2, maxNumber: 100, operations: [.divide]).generate(count: 30, seed: 1)
        #expect(onlyDivide.allSatisfy { $0.steps.allSatisfy { $0.operation == .divide } && $0.steps.count == 2 })
        #expect(ArithmeticOperation.parseList("+-*/") == ArithmeticOperation.allCases)
        #expect(ArithmeticOperation.parseList("+x") == nil && ArithmeticOperation.parseList("") == nil)
        #expect(throws: ArithmeticTask.ConfigError.self) {
            try ArithmeticTask(steps: 6...6, maxNumber: 3, maxFactor: 2, maxResult: 3, operations: [.divide]).generate(count: 1, seed: 1)
        }
        #expect(throws: ArithmeticTask.ConfigError.self) { try ArithmeticTask(steps: 0...2).generate(count: 1, seed: 1) }
    }

    @Test func jsonlRoundTrip() throws {
        let problems = try Self.task.generate(count: 25, seed: 9)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("treerpo-data-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent("arith.jsonl")
        try Dataset.writeArithmetic(problems, to: url)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["arith.jsonl"])  // no temporary left
        let loaded = try Dataset.load(url)
        #expect(loaded.count == 25)
        for (p, l) in zip(problems, loaded) {
            #expect(l.question == p.question && l.solution == p.solution && l.reference == String(p.answer))
        }
        // The `final` field works as the answer field too (a JSON number).
        let finals = try Dataset.load(url, answerField: "final")
        #expect(finals.map(\.reference) == problems.map { String($0.answer) })
        let firstLine = String(decoding: try Data(contentsOf: url), as: UTF8.self).split(separator: "\n")[0]
        #expect(firstLine.hasPrefix("{\"answer\":\"Step 1: "))
    }

    @Test func referencesFromGSM8KAndMATH() throws {
        let gsm = #"{"question": "Q1", "answer": "48/2 = <<48/2=24>>24 clips\n#### 72"}"#
        let math = #"{"problem": "Q2", "solution": "So it is $\\boxed{\\frac{1}{2}}$."}"#
        #expect(try Dataset.parse(Data(gsm.utf8), file: "gsm.jsonl")[0].reference == "72")
        #expect(try Dataset.parse(Data(math.utf8), file: "math.jsonl", questionField: "problem", answerField: "solution")[0].reference == "\\frac{1}{2}")
        let numeric = #"{"question": "Q", "answer": 3.5}"# + "\n\n" + #"{"question": "Q", "answer": -4}"#
        #expect(try Dataset.parse(Data(numeric.utf8), file: "n.jsonl").map(\.reference) == ["3.5", "-4"])
    }

    func datasetError(_ text: String, question: String = "question", answer: String = "answer") -> DatasetError? {
        do {
            _ = try Dataset.parse(Data(text.utf8), file: "data/bad.jsonl", questionField: question, answerField: answer)
            return nil
        } catch let e as DatasetError {
            return e
        } catch {
            Issue.record("not a DatasetError: \(error)")
            return nil
        }
    }

    @Test func badJSONLErrors() throws {
        let ok = #"{"question": "a", "answer": "1"}"#
        let invalid = try #require(datasetError(ok + "\n{\"question\": \"b\", \n"))
        #expect(invalid.line == 2 && invalid.description.hasPrefix("data/bad.jsonl:2: ") && invalid.description.contains("invalid JSON"))
        let array = try #require(datasetError(ok + "\n\n[1, 2]"))
        #expect(array.line == 3 && array.description.contains("found an array"))
        let missing = try #require(datasetError(#"{"q": "a", "answer": "1"}"#))
        #expect(missing.line == 1 && missing.field == "question" && missing.description.contains("\"answer\", \"q\""))
        let renamed = try #require(datasetError(ok, question: "problem"))
        #expect(renamed.field == "problem")
        let boolean = try #require(datasetError(#"{"question": "a", "answer": true}"#))
        #expect(boolean.field == "answer" && boolean.description.contains("boolean"))
        let empty = try #require(datasetError(#"{"question": "  ", "answer": "1"}"#))
        #expect(empty.description.contains("empty string"))
        #expect(try #require(datasetError("\n\n")).description.contains("at least one"))
        let absent = #expect(throws: DatasetError.self) { try Dataset.load(URL(fileURLWithPath: "/nonexistent/x.jsonl")) }
        #expect(absent?.file == "/nonexistent/x.jsonl")
    }

    @Test func promptTemplate() throws {
        let t = try PromptTemplate("Q: {question}\nA:", source: "flag --prompt")
        #expect(t.render(question: "2+2?") == "Q: 2+2?\nA:")
        #expect(PromptTemplate.plain.render(question: "x") == "x")
        #expect(throws: DatasetError.self) { try PromptTemplate("no placeholder") }
        let e = #expect(throws: DatasetError.self) { try PromptTemplate("Question: {q}", source: "prompt.txt") }
        #expect(e?.description.hasPrefix("prompt.txt: expected the placeholder {question}") == true, "\(String(describing: e))")
    }
}
