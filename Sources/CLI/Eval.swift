import ArgumentParser
import Distributed
import Foundation
import TreeRPO
import ModelIO
import Transformer

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure Pass@1, Pass@k, maj@k and answer length on held-out questions.",
        discussion: """
            Evaluates --checkpoint if given, else the newest checkpoint of the run that saved \
            last, else the imported base model. --data is a JSONL file, or "arithmetic" for the \
            built-in task's held-out questions (the ones finetune never trains on).
            """
    )

    @Option(help: "Workspace holding the imported model in base/.")
    var workspace = Workspace.defaultFolderName

    @Option(help: "Checkpoint: a checkpoint folder, a run name (its newest) or RUN/step-N.")
    var checkpoint: String?

    @Flag(help: "Evaluate the imported base model even when checkpoints exist.")
    var base = false

    @Option(help: "JSONL file of questions, or \"arithmetic\" (the built-in task's held-out set).")
    var data: String

    @Option(name: .customLong("question-field"), help: "Field of the question in each JSONL line.")
    var questionField = "question"

    @Option(name: .customLong("answer-field"), help: "Field of the reference answer (a number, a `#### x` or `\\boxed{}` solution).")
    var answerField = "answer"

    @Option(help: "Evaluate only the first N questions.")
    var questions: Int?

    @Option(help: "Samples per question (k).")
    var samples = 8

    @Option(help: "Sampling temperature (0 = greedy).")
    var temperature: Float = 1

    @Option(name: .customLong("top-p"), help: "Nucleus sampling threshold (1 = off).")
    var topP: Float = 1

    @Option(name: .customLong("top-k"), help: "Keep only the k most likely tokens (0 = off).")
    var topK = 0

    @Option(name: .customLong("max-response-tokens"), help: "Most tokens per answer.")
    var maxResponseTokens = 256

    @Option(name: .customLong("prompt-template"), help: "Prompt around each question, with {question}. Default: \"Question: {question}\\nAnswer:\\n\".")
    var promptTemplate: String?

    @Option(name: .customLong("data-seed"), help: "Built-in task: the training questions' seed (finetune --data-seed), which the held-out questions exclude.")
    var dataSeed = TrainingConfig().dataSeed
    @Option(name: .customLong("chat-template"), help: "auto (the model's template from base/tokenizer_config.json), none (the plain prompt template) or a Jinja FILE: the question goes in as a user message, with the generation prompt added. Default: auto when the model has a chat template and no --prompt-template is given, else none.")
    var chatTemplate: String?

    @Option(help: "Random seed of the samples.")
    var seed: UInt64 = 0

    @Flag(help: "Print one JSON object: pass@1, pass@k, maj@k, k, mean_response_tokens, questions, pass@1_stderr, answered (share of samples with a marked final answer), correct_per_question (for `treerpo compare`).")
    var json = false

    @OptionGroup var runtime: RuntimeOptions

    @OptionGroup var mpi: MPIOptions

    func validate() throws {
        guard samples >= 1 else { throw ValidationError("--samples must be at least 1, got \(samples)") }
        guard temperature >= 0, temperature.isFinite else { throw ValidationError("--temperature must be >= 0, got \(temperature)") }
        guard topP > 0 && topP <= 1 else { throw ValidationError("--top-p must be in (0, 1], got \(topP)") }
        guard maxResponseTokens >= 1 else { throw ValidationError("--max-response-tokens must be at least 1") }
        if let questions, questions < 1 { throw ValidationError("--questions must be at least 1, got \(questions)") }
        if base && checkpoint != nil { throw ValidationError("--base and --checkpoint exclude each other") }
    }

    func run() throws {
        runtime.apply()
        let job = try MPIJob.start(timeoutSeconds: mpi.mpiTimeout)
        let ws = Workspace(root: URL(fileURLWithPath: workspace))
        let ref: CheckpointRef? = base ? nil : try checkpoint.map { try ws.resolveCheckpoint($0) } ?? ws.latestCheckpoint()
        let loaded = try WorkspaceModel.load(ws, checkpoint: ref)
        let template = try PromptTemplate.resolve(promptTemplate: promptTemplate, chatTemplate: chatTemplate, base: ws.base) ?? .arithmetic
        if !json && job.isRoot { print("prompt: \(template.summary)") }
        var problems: [Problem]
        if data == "arithmetic" {
            let config = TrainingConfig()
            problems = try TrainingData.arithmetic(config.arithmetic, dataSeed: dataSeed, evalSeed: config.evalSeed,
                                                   heldOutCount: questions ?? config.evalQuestions).heldOut
        } else {
            problems = try Dataset.load(URL(fileURLWithPath: data), questionField: questionField, answerField: answerField)
        }
        if let questions { problems = Array(problems.prefix(questions)) }
        let options = EvaluationOptions(samples: samples, temperature: temperature, topP: topP, topK: topK,
                                        maxResponseTokens: maxResponseTokens, seed: seed)
        let result = try Evaluation.run(model: loaded.model, tokenizer: loaded.tokenizer, problems: problems, template: template,
                                        stopTokens: loaded.stopTokens, options: options, communicator: job)
        guard job.isRoot else { return }  // every rank has the result; rank 0 prints it
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
            return
        }
        print("model: \(loaded.weightsSource)")
        print("data: \(data == "arithmetic" ? "arithmetic task, held-out questions" : data), \(result.questions) questions x \(result.k) samples at temperature \(temperature)")
        print(Table.render(header: ["metric", "value"], rows: [
            ["Pass@1", String(format: "%.1f%%", result.pass1 * 100) + (result.pass1StandardError.map { String(format: " +-%.1f", 100 * $0) } ?? "")],
            ["Pass@\(result.k)", String(format: "%.1f%%", result.passK * 100)],
            ["maj@\(result.k)", String(format: "%.1f%%", result.majK * 100)],
            ["mean answer tokens", String(format: "%.1f", result.meanResponseTokens)],
            ["answered (a marked final answer)", String(format: "%.1f%%", (result.answered ?? 0) * 100)],
        ]))
    }
}
