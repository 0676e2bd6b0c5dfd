import Foundation
import Testing
import TestSupport
@testable import TreeRPO

/// The arithmetic generator at several knob settings: deterministic by seed, and every reference
/// answer recomputed from the question's story alone (the phrase of each sentence says which
/// operation, its number the operand), independently of the generator's own step list.
@Suite struct ArithmeticTaskTests {
    /// The default (what `treerpo data arithmetic` writes and the bundled model was trained on) and
    /// corners of each knob.
    static let settings: [String: ArithmeticTask] = [
        "default": ArithmeticTask(),
        "one step": ArithmeticTask(steps: 1...1),
        "long chains of + and -": ArithmeticTask(steps: 6...8, maxNumber: 50, operations: [.add, .subtract]),
        "only * and / with small factors": ArithmeticTask(steps: 2...5, maxNumber: 12, maxFactor: 3, operations: [.multiply, .divide]),
        "tight max result": ArithmeticTask(steps: 3...3, maxNumber: 40, maxResult: 60),
        "big numbers": ArithmeticTask(steps: 2...4, maxNumber: 200, maxFactor: 12),
    ]
    static let names = settings.keys.sorted()

    /// Operation named by a middle sentence of the story; nil when none or several phrases match.
    static func operation(of sentence: String) -> ArithmeticOperation? {
        var found: [ArithmeticOperation] = []
        if sentence.contains(" more") { found.append(.add) }
        if ["gives away", "loses", "sells", "uses"].contains(where: sentence.contains) { found.append(.subtract) }
        if sentence.contains(" times ") { found.append(.multiply) }
        if sentence.contains(" equal") { found.append(.divide) }
        return found.count == 1 ? found[0] : nil
    }

    static func numbers(_ text: String) -> [Int] {
        text.split(whereSeparator: { !$0.isNumber }).map { Int($0)! }
    }

    @Test(arguments: names)
    func everyAnswerRecomputesFromTheStory(name: String) throws {
        let task = Self.settings[name]!
        let problems = try task.generate(count: 400, seed: 11)
        let factorMax = min(task.maxNumber, task.maxFactor)
        var opsSeen = Set<ArithmeticOperation>(), lengths = Set<Int>()
        for (k, p) in problems.enumerated() {
            let context = "\(name) problem \(k): \(p.question)"
            // "Opening with the start. One sentence per operation. Closing question?"
            var sentences = p.question.components(separatedBy: ". ")
            guard sentences.count >= 3, sentences.last!.hasSuffix("?") else {
                Issue.record("\(context): expected an opening, operations and a question")
                continue
            }
            let closing = sentences.removeLast()
            let opening = sentences.removeFirst()
            #expect(Self.numbers(closing).isEmpty, "\(context)")
            let start = Self.numbers(opening)
            #expect(start.count == 1 && (1...task.maxNumber).contains(start[0]), "\(context): opening \(opening)")
            guard start.count == 1 else { continue }
            var current = start[0]
            var steps: [ArithmeticStep] = []
            for sentence in sentences {
                let operands = Self.numbers(sentence)
                guard operands.count == 1, let op = Self.operation(of: sentence) else {
                    Issue.record("\(context): cannot read the sentence \"\(sentence)\"")
                    break
                }
                let b = operands[0]
                let result: Int
                switch op {
                case .add:
                    #expect((1...task.maxNumber).contains(b), "\(context): + \(b)")
                    result = current + b
                case .subtract:
                    #expect((1...task.maxNumber).contains(b), "\(context): - \(b)")
                    result = current - b
                case .multiply:
                    #expect((2...factorMax).contains(b), "\(context): * \(b)")
                    result = current * b
                case .divide:
                    #expect((2...factorMax).contains(b) && current % b == 0, "\(context): \(current) / \(b) is not an exact division by an allowed factor")
                    result = current / b
                }
                #expect((1...task.maxResult).contains(result), "\(context): \(current) \(op.rawValue) \(b) = \(result) leaves 1...\(task.maxResult)")
                steps.append(ArithmeticStep(operation: op, left: current, right: b, result: result))
                current = result
                opsSeen.insert(op)
            }
            guard steps.count == sentences.count else { continue }
            lengths.insert(steps.count)
            #expect(task.steps.contains(steps.count), "\(context): \(steps.count) operations")
            #expect(steps.allSatisfy { task.operations.contains($0.operation) }, "\(context)")
            // The reference answer, the step list and the solution text all agree with the story.
            #expect(p.answer == current, "\(context): recomputed \(current), reference \(p.answer)")
            #expect(p.steps == steps, "\(context): step list differs from the story")
            let lines = steps.enumerated().map { "Step \($0.offset + 1): \($0.element.left) \($0.element.operation.rawValue) \($0.element.right) = \($0.element.result)" }
            #expect(p.solution == (lines + ["The answer is \(current)."]).joined(separator: "\n"), "\(context): solution\n\(p.solution)")
            // The verifier reads the solution as the recomputed number and nothing else.
            #expect(ExactMatchReward.isCorrect(response: p.solution, reference: String(current)), "\(context)")
            #expect(!ExactMatchReward.isCorrect(response: p.solution, reference: String(current + 1)), "\(context)")
        }
        #expect(opsSeen == Set(task.operations), "\(name): operations seen \(opsSeen.map(\.rawValue).sorted())")
        #expect(lengths == Set(task.steps), "\(name): chain lengths seen \(lengths.sorted())")
    }

    /// Same seed, same bytes of JSONL; another seed, other problems; prefix-stable.
    @Test(arguments: names)
    func deterministicBySeed(name: String) throws {
        let task = Self.settings[name]!
        let a = try Dataset.arithmeticJSONL(task.generate(count: 200, seed: 5))
        let b = try Dataset.arithmeticJSONL(task.generate(count: 200, seed: 5))
        let c = try task.generate(count: 200, seed: 6)
        #expect(a == b)
        let fromA = try task.generate(count: 200, seed: 5)
        #expect(fromA != c)
        #expect(zip(fromA, c).filter { $0 == $1 }.count < 10, "\(name): seeds 5 and 6 share too many problems")
        #expect(try task.generate(count: 50, seed: 5) == Array(fromA.prefix(50)))
    }

    /// The library at its defaults writes, line for line, the corpus that `treerpo data arithmetic`
    /// wrote for the bundled model (the first lines of its training and held-out files, kept by
    /// tools/make_bundled_model.py): a generator change that would orphan the bundled model fails here.
    @Test func defaultsReproduceTheBundledModelsCorpus() throws {
        let url = Repository.url("Fixtures/bundled/corpus_head.json")
        let regenerate = "regenerate with: python tools/make_bundled_model.py (after a deliberate generator change, retrain the bundled model)"
        let data = try #require(try? Data(contentsOf: url), "cannot read \(url.path); \(regenerate)")
        let head = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        for part in ["train", "eval"] {
            let entry = try #require(head[part] as? [String: Any], "\(part) missing; \(regenerate)")
            let seed = try #require(entry["seed"] as? Int)
            let lines = try #require(entry["lines"] as? [String])
            #expect(lines.count >= 8)
            let ours = try Dataset.arithmeticJSONL(ArithmeticTask().generate(count: lines.count, seed: UInt64(seed)))
            let oursLines = String(decoding: ours, as: UTF8.self).split(separator: "\n").map(String.init)
            #expect(oursLines == lines, "\(part) corpus, seed \(seed): the library's defaults no longer give the bundled model's corpus; \(regenerate)")
        }
    }
}
