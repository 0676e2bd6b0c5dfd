import Distributed
import Foundation
import Sampling
import Tensors
import Tokenization
import Transformer

/// Pass@1, unbiased Pass@k, maj@k and answer length over held-out questions (docs/method.md
/// "Evaluation").
public struct EvaluationResult: Codable, Equatable, Sendable {
    /// Mean correctness over all k samples of all questions.
    public var pass1: Double
    /// Unbiased Pass@k (Chen et al. 2021): with n = k samples it is the share of questions with
    /// at least one correct sample.
    public var passK: Double
    /// Share of questions whose most frequent extracted answer is correct (ties: the answer seen
    /// first).
    public var majK: Double
    public var k: Int
    public var meanResponseTokens: Double
    public var questions: Int
    /// The sampling noise of `pass1` on this fixed question set (one standard error): what a
    /// second evaluation with other sample seeds would scatter by. nil with one sample per question.
    public var pass1StandardError: Double?
    /// Correct samples of each question, in order (for paired comparisons, `EvaluationComparison`).
    public var correctPerQuestion: [Int]?
    /// Format compliance: the share of all samples that state a final answer the verifier can
    /// read (`AnswerExtraction`: "The answer is x", `\boxed{x}` or `#### x`), right or wrong. A
    /// model that rarely ends with a marked answer (SmolLM2 on arithmetic) scores near zero
    /// however well it computes; this tells the two apart. nil in results written before it existed.
    public var answered: Double?

    public init(pass1: Double, passK: Double, majK: Double, k: Int, meanResponseTokens: Double, questions: Int,
                pass1StandardError: Double? = nil, correctPerQuestion: [Int]? = nil, answered: Double? = nil) {
        self.pass1 = pass1
        self.passK = passK
        self.majK = majK
        self.k = k
        self.meanResponseTokens = meanResponseTokens
        self.questions = questions
        self.pass1StandardError = pass1StandardError
        self.correctPerQuestion = correctPerQuestion
        self.answered = answered
    }

    enum CodingKeys: String, CodingKey {
        case pass1 = "pass@1", passK = "pass@k", majK = "maj@k", k
        case meanResponseTokens = "mean_response_tokens", questions
        case pass1StandardError = "pass@1_stderr", correctPerQuestion = "correct_per_question"
        case answered
    }
}

public struct EvaluationOptions: Sendable {
    public var samples: Int
    public var temperature: Float
    public var topP: Float
    public var topK: Int
    public var maxResponseTokens: Int
    public var seed: UInt64
    /// Sequences decoded together.
    public var batchSize: Int

    public init(samples: Int = 8, temperature: Float = 1, topP: Float = 1, topK: Int = 0,
                maxResponseTokens: Int = 256, seed: UInt64 = 0, batchSize: Int = 64) {
        self.samples = samples
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.maxResponseTokens = maxResponseTokens
        self.seed = seed
        self.batchSize = batchSize
    }
}

public enum Evaluation {
    /// Unbiased Pass@k from n samples of which c are correct: 1 - C(n-c, k) / C(n, k).
    public static func passAtK(n: Int, c: Int, k: Int) -> Double {
        precondition(n >= 1 && k >= 1 && k <= n && c >= 0 && c <= n, "passAtK: need 1 <= k <= n and 0 <= c <= n")
        if c == 0 { return 0 }
        if n - c < k { return 1 }
        var failAll = 1.0
        for i in (n - c + 1)...n { failAll *= 1 - Double(k) / Double(i) }
        return 1 - failAll
    }

    /// Standard error of Pass@1 from sampling alone, over a fixed set of questions with `k`
    /// samples each: per question c(k - c) / (k (k - 1)) estimates p(1 - p) without bias, the
    /// question's mean has variance p(1 - p) / k, and the set's mean averages them.
    public static func pass1SamplingStandardError(correct: [Int], k: Int) -> Double? {
        guard k >= 2, !correct.isEmpty else { return nil }
        let q = Double(correct.count), kk = Double(k)
        let variance = correct.reduce(0.0) { $0 + Double($1 * (k - $1)) / (kk * kk * (kk - 1)) } / (q * q)
        return variance.squareRoot()
    }

    /// The majority answer of a question's samples (answers that are the same number vote
    /// together, whatever their spelling; unparsable answers vote by their text), nil when no
    /// sample has an extractable answer. Ties go to the answer seen first.
    public static func majorityAnswer(_ responses: [String]) -> String? {
        var answers: [String] = [], votes: [Int] = []
        for r in responses {
            guard let extracted = AnswerExtraction.extract(from: r) else { continue }
            if let i = answers.firstIndex(where: { $0 == extracted.answer || NumberMatching.equivalent($0, extracted.answer) }) {
                votes[i] += 1
            } else {
                answers.append(extracted.answer)
                votes.append(1)
            }
        }
        guard let best = votes.max() else { return nil }
        return answers[votes.firstIndex(of: best)!]
    }

    /// Samples `options.samples` answers to every problem and scores them. Question q's sample j
    /// draws from stream q * samples + j of `options.seed`, so results do not depend on the
    /// batch size. The batches of `options.batchSize` samples are dealt out to one worker per
    /// thread (batch b to worker b mod threads, each with its own generator on single-threaded
    /// kernels, `Compute.dataParallel`): a small model's batch is too short to split over cores.
    /// With several ranks (docs/mpi.md), batch b is rank (b mod ranks)'s, dealt out to its
    /// threads the same way, and every rank receives every batch's answers: a batch's answers do
    /// not depend on who sampled it, so the result is the one process's, on every rank.
    public static func run(model: TransformerModel, tokenizer: Tokenizer, problems: [Problem], template: PromptTemplate,
                           stopTokens: Set<Int>, options: EvaluationOptions,
                           communicator: any Communicator = SingleProcess()) throws -> EvaluationResult {
        let k = options.samples
        guard !problems.isEmpty else {
            throw EvaluationError("expected at least one question to evaluate, found none")
        }
        let sampler = SamplerChain(temperature: options.temperature, topK: options.topK, topP: options.topP,
                                   greedy: options.temperature == 0)
        let prompts = try problems.map { try template.promptTokens(question: $0.question, tokenizer: tokenizer) }
        let jobs = problems.indices.flatMap { q in (0..<k).map { (q, $0) } }
        let size = max(1, options.batchSize)
        let batches = stride(from: 0, to: jobs.count, by: size).map { Array(jobs[$0..<min(jobs.count, $0 + size)]) }
        let generation = GenerationOptions(maxNewTokens: options.maxResponseTokens, sampler: sampler,
                                           seed: options.seed, stopTokens: stopTokens)
        let mine = Array(stride(from: communicator.rank, to: batches.count, by: communicator.size))
        let workers = min(Compute.threads, mine.count)
        let outputs = WorkerSlots<[[Int]]>(batches.count, initial: [])
        try Compute.dataParallel(max(1, workers)) { w in
            let generator = Generator(model: model)
            for b in stride(from: w, to: mine.count, by: max(1, workers)).map({ mine[$0] }) {
                let chunk = batches[b]
                let out = try generator.generate(prompts: chunk.map { prompts[$0.0] }, options: generation,
                                                 streams: chunk.map { UInt64($0.0 * k + $0.1) })
                outputs[b] = out.map { $0.tokens.map(\.id) }
            }
        }
        let answers = try gatherAnswers(outputs.values, batches: batches.count, over: communicator)
        var responses = [[String]](repeating: [], count: problems.count)
        var responseTokens = 0
        for (b, chunk) in batches.enumerated() {
            for ((q, _), ids) in zip(chunk, answers[b]) {
                responseTokens += ids.count
                responses[q].append(tokenizer.decode(ids, skipSpecialTokens: true))
            }
        }
        return score(responses: responses, references: problems.map(\.reference), responseTokens: responseTokens)
    }

    /// The answers of every batch, `[batches][samples][tokens]`, from `local` (this rank's
    /// batches filled, the others' empty), the batches of rank r being r, r + ranks, ...
    private static func gatherAnswers(_ local: [[[Int]]], batches: Int, over communicator: any Communicator) throws -> [[[Int]]] {
        guard communicator.size > 1 else { return local }
        let ranks = communicator.size
        let mine = stride(from: communicator.rank, to: batches, by: ranks).map { local[$0] }
        var all = local
        for (rank, bytes) in try communicator.allGather(Array(try JSONEncoder().encode(mine))).enumerated() {
            let theirs = try JSONDecoder().decode([[[Int]]].self, from: Data(bytes))
            let indices = Array(stride(from: rank, to: batches, by: ranks))
            guard theirs.count == indices.count else {
                throw CommunicatorError("rank \(rank) sent the answers of \(theirs.count) batches, expected \(indices.count)")
            }
            for (b, answers) in zip(indices, theirs) { all[b] = answers }
        }
        return all
    }

    /// Scores `responses[q]`, the k sampled answers to question q (the same k for every
    /// question), against `references[q]`; `responseTokens` is their total length in tokens.
    public static func score(responses: [[String]], references: [String], responseTokens: Int) -> EvaluationResult {
        precondition(responses.count == references.count && !responses.isEmpty, "score: one list of responses per reference")
        let k = responses[0].count
        precondition(k >= 1 && responses.allSatisfy { $0.count == k }, "score: the same number of responses (at least 1) for every question")
        var correct = [Int](repeating: 0, count: responses.count), answered = 0, majority = 0
        for (q, answers) in responses.enumerated() {
            for text in answers {
                if ExactMatchReward.isCorrect(response: text, reference: references[q]) { correct[q] += 1 }
                if AnswerExtraction.extract(from: text) != nil { answered += 1 }
            }
            if let answer = majorityAnswer(answers), NumberMatching.equivalent(answer, references[q]) { majority += 1 }
        }
        let total = Double(responses.count)
        return EvaluationResult(
            pass1: Double(correct.reduce(0, +)) / (total * Double(k)),
            passK: correct.reduce(0.0) { $0 + passAtK(n: k, c: $1, k: k) } / total,
            majK: Double(majority) / total, k: k,
            meanResponseTokens: Double(responseTokens) / (total * Double(k)),
            questions: responses.count,
            pass1StandardError: pass1SamplingStandardError(correct: correct, k: k),
            correctPerQuestion: correct,
            answered: Double(answered) / (total * Double(k)))
    }
}

public struct EvaluationError: SettingError, CustomStringConvertible, Equatable {
    public let message: String
    /// The setting that would avoid it (the command line adds its flag).
    public let setting: Setting?
    public init(_ message: String, setting: Setting? = nil) {
        self.message = message
        self.setting = setting
    }
    public var description: String { "eval: \(message)" }
}
