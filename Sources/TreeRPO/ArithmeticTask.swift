/// A built-in task of multi-step arithmetic word problems, deterministic by seed.
///
/// Each problem starts from a number and applies `steps` operations to it; the question tells
/// that as a short story ("Mia has 12 shells. She finds 7 more. ..."), the solution shows one
/// line per operation and a final sentence:
///
///     Step 1: 12 + 7 = 19
///     Step 2: 19 * 3 = 57
///     The answer is 57.
///
/// The solution format is fixed and regular because the same corpus pretrains the bundled tiny
/// model; the questions vary through templates so the model must read them. Numbers appear in
/// the question as digits, in the order they are used, and nowhere else. Every intermediate
/// result is a whole number in `1...maxResult` (subtraction never goes to zero or below,
/// division is always exact).
public enum ArithmeticOperation: String, CaseIterable, Codable, Sendable {
    case add = "+", subtract = "-", multiply = "*", divide = "/"

    public func apply(_ a: Int, _ b: Int) -> Int {
        switch self {
        case .add: a + b
        case .subtract: a - b
        case .multiply: a * b
        case .divide: a / b
        }
    }

    /// `"+-*/"` -> operations; `nil` on an unknown character or an empty string.
    public static func parseList(_ text: String) -> [ArithmeticOperation]? {
        var out: [ArithmeticOperation] = []
        for c in text {
            guard let op = ArithmeticOperation(rawValue: String(c)) else { return nil }
            if !out.contains(op) { out.append(op) }
        }
        return out.isEmpty ? nil : out
    }
}

public struct ArithmeticStep: Codable, Equatable, Sendable {
    public var operation: ArithmeticOperation
    public var left: Int
    public var right: Int
    public var result: Int
}

public struct ArithmeticProblem: Codable, Equatable, Sendable {
    public var question: String
    /// One line per step and "The answer is N.", joined by newlines.
    public var solution: String
    public var answer: Int
    public var steps: [ArithmeticStep]
}

public struct ArithmeticTask: Codable, Equatable, Sendable {
    /// Operations per problem, drawn uniformly from this range.
    public var steps: ClosedRange<Int>
    /// Starting numbers and +/- operands are in `1...maxNumber` (operands from 2 when possible).
    public var maxNumber: Int
    /// Multipliers and divisors are in `2...min(maxNumber, maxFactor)`.
    public var maxFactor: Int
    /// Every intermediate result stays in `1...maxResult`.
    public var maxResult: Int
    public var operations: [ArithmeticOperation]

    public init(steps: ClosedRange<Int> = 2...4, maxNumber: Int = 20, maxFactor: Int = 9,
                maxResult: Int? = nil, operations: [ArithmeticOperation] = ArithmeticOperation.allCases) {
        self.steps = steps
        self.maxNumber = maxNumber
        self.maxFactor = maxFactor
        self.maxResult = maxResult ?? max(100, maxNumber * maxNumber)
        self.operations = operations
    }

    public struct ConfigError: Error, CustomStringConvertible, Equatable {
        public var description: String
    }

    public func validate() throws {
        guard steps.lowerBound >= 1 else { throw ConfigError(description: "steps must be at least 1, got \(stepsDescription)") }
        guard maxNumber >= 2 else { throw ConfigError(description: "max number must be at least 2, got \(maxNumber)") }
        guard maxFactor >= 2 else { throw ConfigError(description: "max factor must be at least 2, got \(maxFactor)") }
        guard maxResult >= maxNumber else {
            throw ConfigError(description: "max result (\(maxResult)) must be at least max number (\(maxNumber))")
        }
        guard !operations.isEmpty else { throw ConfigError(description: "no operations chosen") }
    }

    /// `count` problems from `seed`. The sequence is prefix-stable: the first k problems of a
    /// larger count are the same k problems.
    public func generate(count: Int, seed: UInt64) throws -> [ArithmeticProblem] {
        try validate()
        var rng = SplitMix64(seed: seed)
        var out: [ArithmeticProblem] = []
        out.reserveCapacity(count)
        for _ in 0..<count { out.append(try problem(&rng)) }
        return out
    }

    /// One problem. Chains that reach a dead end (say only `/` is allowed and the number is
    /// prime) are redrawn; a setting that almost never succeeds is an error, not a hang.
    public func problem(_ rng: inout SplitMix64) throws -> ArithmeticProblem {
        for _ in 0..<10_000 {
            if let chain = chain(&rng) { return render(chain, &rng) }
        }
        let ops = operations.map(\.rawValue).joined()
        throw ConfigError(description: "cannot build \(stepsDescription) steps of \(ops) within max number \(maxNumber), max factor \(maxFactor), max result \(maxResult); widen the ranges or add operations")
    }

    func chain(_ rng: inout SplitMix64) -> [ArithmeticStep]? {
        let n = rng.int(in: steps)
        var current = rng.int(in: 1...maxNumber)
        var out: [ArithmeticStep] = []
        let factorMax = min(maxNumber, maxFactor)
        for _ in 0..<n {
            // Feasible operand ranges for each operation from `current`.
            var choices: [(ArithmeticOperation, [Int])] = []
            for op in operations {
                switch op {
                case .add:
                    let hi = min(maxNumber, maxResult - current)
                    if hi >= 1 { choices.append((op, Array(Self.lowOperand(hi)...hi))) }
                case .subtract:
                    let hi = min(maxNumber, current - 1)
                    if hi >= 1 { choices.append((op, Array(Self.lowOperand(hi)...hi))) }
                case .multiply:
                    let hi = min(factorMax, maxResult / current)
                    if hi >= 2 { choices.append((op, Array(2...hi))) }
                case .divide:
                    let ds = factorMax >= 2 ? (2...factorMax).filter { current % $0 == 0 && current / $0 >= 2 } : []
                    if !ds.isEmpty { choices.append((op, ds)) }
                }
            }
            guard !choices.isEmpty else { return nil }
            let (op, operands) = choices[rng.int(in: 0...(choices.count - 1))]
            let b = rng.pick(operands)
            let result = op.apply(current, b)
            out.append(ArithmeticStep(operation: op, left: current, right: b, result: result))
            current = result
        }
        return out
    }

    /// + and - operands start at 2 when they can ("loses 1 shells" reads badly).
    static func lowOperand(_ hi: Int) -> Int { hi >= 2 ? 2 : 1 }

    /// `3` or `2-4`, as the command line takes it.
    public var stepsDescription: String {
        steps.lowerBound == steps.upperBound ? "\(steps.lowerBound)" : "\(steps.lowerBound)-\(steps.upperBound)"
    }

    // MARK: - Text

    struct Person: Sendable {
        var name: String
        var subject: String  // "she"
        var object: String   // "her"
    }

    static let people: [Person] = [
        ("Mia", "she", "her"), ("Noah", "he", "him"), ("Ava", "she", "her"), ("Liam", "he", "him"),
        ("Zoe", "she", "her"), ("Omar", "he", "him"), ("Lena", "she", "her"), ("Ravi", "he", "him"),
        ("Sara", "she", "her"), ("Tom", "he", "him"), ("Yuki", "she", "her"), ("Ben", "he", "him"),
    ].map { Person(name: $0.0, subject: $0.1, object: $0.2) }

    static let items = ["apples", "marbles", "stickers", "coins", "shells", "cards", "pencils", "stamps", "beads", "books"]

    /// Placeholders: {N} name, {P}/{p} subject pronoun, {o} object pronoun, {x} items, {b} operand.
    static let openings = ["{N} has {a} {x}.", "{N} starts with {a} {x}.", "{N} collected {a} {x}.",
                           "There are {a} {x} in {N}'s box."]
    static let phrases: [ArithmeticOperation: [String]] = [
        .add: ["{P} buys {b} more.", "{P} finds {b} more {x}.", "A friend gives {o} {b} more {x}.",
               "{P} gets {b} more {x}."],
        .subtract: ["{P} gives away {b}.", "{P} loses {b} {x}.", "{P} sells {b} of them.", "{P} uses {b} {x}."],
        .multiply: ["{P} ends up with {b} times as many {x} as before.",
                    "The number of {x} {p} has becomes {b} times as large.",
                    "{P} makes the pile {b} times bigger."],
        .divide: ["{P} splits the {x} into {b} equal piles and keeps one pile.",
                  "{P} shares the {x} equally among {b} friends and keeps one share.",
                  "{P} keeps only one of {b} equal parts of the {x}."],
    ]
    static let closings = ["How many {x} does {N} have now?", "How many {x} does {p} have at the end?",
                           "How many {x} does {N} have in the end?"]

    func render(_ chain: [ArithmeticStep], _ rng: inout SplitMix64) -> ArithmeticProblem {
        let person = rng.pick(Self.people)
        let item = rng.pick(Self.items)
        let subject = person.subject.prefix(1).uppercased() + person.subject.dropFirst()
        let first = String(chain[0].left)
        // Every {N} {P} {p} {o} {x} {a} (and {b} when given) of the template replaced by its
        // value in one pass; the values hold no braces, so this is the same text as replacing
        // the placeholders one after another (Foundation's replacingOccurrences cost about 7 s
        // of start-up per command for the pretraining corpus of DataSeeds).
        func fill(_ template: String, _ b: Int? = nil) -> String {
            var out = ""
            var rest = Substring(template)
            while let open = rest.firstIndex(of: "{") {
                out += rest[..<open]
                let name = rest.index(after: open)
                if name < rest.endIndex, let close = rest.index(name, offsetBy: 1, limitedBy: rest.endIndex),
                   close < rest.endIndex, rest[close] == "}", let value = placeholder(rest[name], b) {
                    out += value
                    rest = rest[rest.index(after: close)...]
                } else {
                    out.append("{")
                    rest = rest[name...]
                }
            }
            return out + rest
        }
        func placeholder(_ name: Character, _ b: Int?) -> String? {
            switch name {
            case "N": person.name
            case "P": subject
            case "p": person.subject
            case "o": person.object
            case "x": item
            case "a": first
            case "b": b.map(String.init)
            default: nil
            }
        }
        var sentences = [fill(rng.pick(Self.openings))]
        for step in chain { sentences.append(fill(rng.pick(Self.phrases[step.operation]!), step.right)) }
        sentences.append(fill(rng.pick(Self.closings)))
        let answer = chain.last!.result
        var lines = chain.enumerated().map { k, s in "Step \(k + 1): \(s.left) \(s.operation.rawValue) \(s.right) = \(s.result)" }
        lines.append("The answer is \(answer).")
        return ArithmeticProblem(question: sentences.joined(separator: " "), solution: lines.joined(separator: "\n"),
                                 answer: answer, steps: chain)
    }
}
