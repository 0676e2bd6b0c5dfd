import Foundation
import Transformer
import Sampling
import ModelFiles

/// One training or evaluation question.
public struct Problem: Codable, Equatable, Sendable {
    public var question: String
    /// The answer field as the file gives it: a bare answer, a GSM8K solution ending in
    /// `#### x`, a MATH solution with `\boxed{}`, or one of our arithmetic solutions.
    public var solution: String
    /// The final answer alone (`AnswerExtraction.reference`), what the verifier compares with.
    public var reference: String

    public init(question: String, solution: String) {
        self.question = question
        self.solution = solution
        reference = AnswerExtraction.reference(from: solution)
    }
}

/// A problem with a data file: names the file, the line (1-based) and field when known.
public struct DatasetError: SettingError, CustomStringConvertible, Equatable {
    public var file: String
    public var line: Int?
    public var field: String?
    public var message: String
    /// The setting that would avoid it (the command line adds its flag).
    public var setting: Setting?

    public init(file: String, line: Int?, field: String?, message: String, setting: Setting? = nil) {
        self.file = file
        self.line = line
        self.field = field
        self.message = message
        self.setting = setting
    }

    public var description: String {
        var place = file
        if let line { place += ":\(line)" }
        if let field { place += " field \"\(field)\"" }
        return "\(place): \(message)"
    }
}

/// JSON Lines datasets: one object per line with a question field and an answer field whose
/// names are configurable (`question`/`answer` for GSM8K and our arithmetic files,
/// `problem`/`solution` for MATH). Blank lines are skipped; anything else malformed is an error.
public enum Dataset {
    public static func load(_ url: URL, questionField: String = "question", answerField: String = "answer") throws -> [Problem] {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw DatasetError(file: url.path, line: nil, field: nil, message: "cannot read it: \(PlainErrorText.describe(error))")
        }
        return try parse(data, file: url.path, questionField: questionField, answerField: answerField)
    }

    public static func parse(_ data: Data, file: String, questionField: String = "question",
                             answerField: String = "answer") throws -> [Problem] {
        guard let text = String(data: data, encoding: .utf8) else {
            throw DatasetError(file: file, line: nil, field: nil, message: "expected UTF-8 text, found invalid bytes")
        }
        var problems: [Problem] = []
        for (k, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            let record: [String: JSONField]
            do {
                record = try JSONDecoder().decode([String: JSONField].self, from: Data(line.utf8))
            } catch {
                let found = (try? JSONDecoder().decode(JSONField.self, from: Data(line.utf8))).map { $0.kind }
                    ?? "invalid JSON: \(line.prefix(60).debugDescription)"
                throw DatasetError(file: file, line: k + 1, field: nil, message: "expected a JSON object, found \(found)")
            }
            let question = try string(record, questionField, file: file, line: k + 1)
            let answer = try string(record, answerField, file: file, line: k + 1)
            problems.append(Problem(question: question, solution: answer))
        }
        guard !problems.isEmpty else {
            throw DatasetError(file: file, line: nil, field: nil, message: "expected at least one JSON line, found none")
        }
        return problems
    }

    /// A string field, or a number (GSM8K-like files sometimes store the final answer as one).
    static func string(_ record: [String: JSONField], _ field: String, file: String, line: Int) throws -> String {
        guard let value = record[field] else {
            let present = record.keys.sorted().map { "\"\($0)\"" }.joined(separator: ", ")
            throw DatasetError(file: file, line: line, field: field, message: "missing; the object has \(present.isEmpty ? "no fields" : present)")
        }
        switch value {
        case .string(let s):
            guard !s.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw DatasetError(file: file, line: line, field: field, message: "expected text, found an empty string")
            }
            return s
        case .integer(let i): return String(i)
        case .number(let d): return "\(d)"
        default:
            throw DatasetError(file: file, line: line, field: field, message: "expected a string or number, found \(value.kind)")
        }
    }

    /// Writes arithmetic problems as JSONL with fields `question`, `answer` (the full
    /// solution) and `final` (the number), through a temporary file and a rename.
    public static func writeArithmetic(_ problems: [ArithmeticProblem], to url: URL) throws {
        let directory = url.deletingLastPathComponent()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DatasetError(file: url.path, line: nil, field: nil, message: "cannot write: directory \(directory.path) does not exist")
        }
        try AtomicFile.write(arithmeticJSONL(problems), to: url)
    }

    public static func arithmeticJSONL(_ problems: [ArithmeticProblem]) throws -> Data {
        struct Record: Encodable {
            var question: String
            var answer: String
            var final: Int
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var out = Data()
        for p in problems {
            out.append(try encoder.encode(Record(question: p.question, answer: p.solution, final: p.answer)))
            out.append(0x0A)
        }
        return out
    }
}

/// Any JSON value, decoded with `JSONDecoder` so that `true` and `1` stay distinct.
enum JSONField: Decodable {
    case string(String), integer(Int), number(Double), bool(Bool), null, array, object

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int.self) { self = .integer(i) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if (try? c.decode([JSONField].self)) != nil { self = .array }
        else { _ = try c.decode([String: JSONField].self); self = .object }
    }

    var kind: String {
        switch self {
        case .string: "a string"
        case .integer, .number: "a number"
        case .bool(let b): "a boolean (\(b))"
        case .null: "null"
        case .array: "an array"
        case .object: "an object"
        }
    }
}
