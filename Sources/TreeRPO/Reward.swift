import Foundation
import ModelFiles
#if canImport(Glibc)
import Glibc
#endif

/// One thing to score: the question as posed, the model's response text (the full answer along
/// a root-to-leaf path, without the prompt), and the reference answer or solution as the dataset
/// gives it (`42`, `... #### 42`, `... \boxed{42}`).
public struct RewardQuery: Codable, Equatable, Sendable {
    public var question: String
    public var response: String
    public var reference: String

    public init(question: String, response: String, reference: String) {
        self.question = question
        self.response = response
        self.reference = reference
    }
}

/// A leaf reward `phi(prompt, answer)`. Batched, because an external scorer is started once per
/// batch of leaves, not once per leaf.
public protocol RewardFunction: Sendable {
    /// For metrics and error messages.
    var name: String { get }
    /// One reward per query, in order.
    func rewards(_ queries: [RewardQuery]) throws -> [Double]
}

extension RewardFunction {
    public func reward(question: String, response: String, reference: String) throws -> Double {
        try rewards([RewardQuery(question: question, response: response, reference: reference)])[0]
    }
}

public struct RewardError: Error, CustomStringConvertible, Equatable {
    public var source: String
    public var message: String

    public init(_ source: String, _ message: String) {
        self.source = source
        self.message = message
    }

    public var description: String { "\(source): \(message)" }
}

// MARK: - Exact match

/// 1 when the response's final answer (see `AnswerExtraction`) is exactly the reference answer
/// (see `NumberMatching`), else 0; plus `formatReward` whenever the response has an extractable
/// answer at all. So with `formatReward = 0.1`: correct 1.1, wrong but well-formed 0.1, no
/// answer 0. The bonus is additive so that a correct answer always beats a wrong one by 1.
public struct ExactMatchReward: RewardFunction {
    public var formatReward: Double

    public init(formatReward: Double = 0) {
        self.formatReward = formatReward
    }

    public var name: String { formatReward == 0 ? "exact-match" : "exact-match+format(\(formatReward))" }

    public func rewards(_ queries: [RewardQuery]) -> [Double] {
        queries.map { score(response: $0.response, reference: $0.reference) }
    }

    public func score(response: String, reference: String) -> Double {
        guard let extracted = AnswerExtraction.extract(from: response) else { return 0 }
        let correct = NumberMatching.equivalent(extracted.answer, AnswerExtraction.reference(from: reference))
        return (correct ? 1 : 0) + formatReward
    }

    /// Correctness alone, for evaluation (Pass@k, maj@k).
    public static func isCorrect(response: String, reference: String) -> Bool {
        guard let extracted = AnswerExtraction.extract(from: response) else { return false }
        return NumberMatching.equivalent(extracted.answer, AnswerExtraction.reference(from: reference))
    }
}

// MARK: - External command

/// Scores with a user command, started once per batch through `/bin/sh -c`. The command reads
/// one JSON object per line on stdin, `{"question":...,"reference":...,"response":...}`, and
/// must print exactly one number per input line on stdout, in order, then exit 0. Anything else
/// (a non-zero exit, a line that is not a finite number, too few or too many lines, running
/// past `timeout`) is an error that names the command and shows the end of its stderr.
public struct ExternalCommandReward: RewardFunction {
    public var command: String
    /// Seconds; `nil` waits forever.
    public var timeout: Double?

    public init(command: String, timeout: Double? = 600) {
        self.command = command
        self.timeout = timeout
    }

    public var name: String { "command(\(command))" }

    public func rewards(_ queries: [RewardQuery]) throws -> [Double] {
        if queries.isEmpty { return [] }
        let source = "reward command `\(command)`"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var input = Data()
        for q in queries {
            input.append(try encoder.encode(q))
            input.append(0x0A)
        }
        let run = try Self.run(command: command, input: input, timeout: timeout, source: source)
        let stderrTail = String(decoding: run.stderr.suffix(800), as: UTF8.self)
        let context = stderrTail.isEmpty ? "" : "; its stderr ends with:\n\(stderrTail)"
        if run.timedOut {
            throw RewardError(source, "did not finish within \(timeout ?? 0) s for \(queries.count) queries\(context)")
        }
        guard run.status == 0 else {
            throw RewardError(source, "exited with status \(run.status) (expected 0)\(context)")
        }
        var lines = String(decoding: run.stdout, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        var values: [Double] = []
        for (k, line) in lines.enumerated() {
            let text = line.trimmingCharacters(in: .whitespaces)
            guard let v = Double(text), v.isFinite else {
                throw RewardError(source, "stdout line \(k + 1) is \(text.debugDescription), expected one finite number per line\(context)")
            }
            values.append(v)
        }
        guard values.count == queries.count else {
            throw RewardError(source, "printed \(values.count) numbers for \(queries.count) queries (expected one per input line)\(context)")
        }
        return values
    }

    struct Finished {
        var status: Int32
        var stdout: Data
        var stderr: Data
        var timedOut: Bool
    }

    /// Collects stdout and stderr on their own threads while stdin is written, so a command that
    /// answers line by line cannot deadlock against a full pipe.
    static func run(command: String, input: Data, timeout: Double?, source: String) throws -> Finished {
        // A command that exits without reading stdin would otherwise kill us with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        do {
            try process.run()
        } catch {
            throw RewardError(source, "cannot start /bin/sh: \(PlainErrorText.describe(error))")
        }
        // Blocking pipe I/O runs on dedicated threads: on the shared Dispatch pool, several
        // scorers running at once can starve each other of threads for seconds.
        let collected = Collected()
        let done = DispatchGroup()
        func background(_ body: @escaping @Sendable () -> Void) {
            done.enter()
            Thread {
                body()
                done.leave()
            }.start()
        }
        background {
            try? stdin.fileHandleForWriting.write(contentsOf: input)
            try? stdin.fileHandleForWriting.close()
        }
        background { collected.set(stderr: stderr.fileHandleForReading.readDataToEndOfFile()) }
        background { collected.set(stdout: stdout.fileHandleForReading.readDataToEndOfFile()) }
        if let timeout, done.wait(timeout: .now() + timeout) == .timedOut {
            collected.markTimedOut()
            // Foundation starts the shell as the leader of its own process group; signalling
            // the group also stops what the shell started (`sleep`, `python ...`).
            kill(-process.processIdentifier, SIGTERM)
            process.terminate()
            // A grandchild that keeps the pipes open must not hang us: give up on its output.
            _ = done.wait(timeout: .now() + 5)
            return Finished(status: -1, stdout: collected.stdout, stderr: collected.stderr, timedOut: true)
        }
        done.wait()
        process.waitUntilExit()
        return Finished(status: process.terminationStatus, stdout: collected.stdout, stderr: collected.stderr, timedOut: false)
    }

    /// Results written by the helper threads; a lock because they finish in any order.
    private final class Collected: @unchecked Sendable {
        private let lock = NSLock()
        private var _stderr = Data()
        private var _stdout = Data()
        private var _timedOut = false
        var stderr: Data { locked { _stderr } }
        var stdout: Data { locked { _stdout } }
        func set(stdout: Data) { locked { _stdout = stdout } }
        var timedOut: Bool { locked { _timedOut } }
        func set(stderr: Data) { locked { _stderr = stderr } }
        func markTimedOut() { locked { _timedOut = true } }

        private func locked<T>(_ body: () -> T) -> T {
            lock.lock()
            defer { lock.unlock() }
            return body()
        }
    }
}
