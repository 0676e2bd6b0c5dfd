import ArgumentParser
import Distributed
import Foundation
import TreeRPO
import ModelIO
import Tensors
import Transformer

struct Finetune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fine-tune the imported model with TreeRPO (or GRPO) on verifiable questions.",
        discussion: """
            Writes runs/NAME/ in the workspace: config.json (the resolved settings), \
            metrics.jsonl (one line per step), trees/ (sampled trees now and then) and \
            checkpoints/step-N/ (weights, AdamW moments, trainer state; written to a temporary \
            folder and renamed). --resume continues a stopped or killed run from its newest \
            checkpoint with its saved settings and ends with the same weights as an \
            uninterrupted run.
            """
    )

    @Option(help: "Workspace holding the imported model in base/.")
    var workspace = Workspace.defaultFolderName

    @Option(name: .customLong("run"), help: "Run name (default: run-<date>-<time>).")
    var runName: String?

    @Flag(help: "Continue run --run from its newest checkpoint, with its saved settings.")
    var resume = false

    // Data.
    @Option(help: "JSONL training questions (the last --eval-questions lines are held out when --eval-every is set).")
    var data: String?

    @Option(help: "Built-in task instead of --data: arithmetic.")
    var task: String?

    @Option(name: .customLong("question-field")) var questionField = "question"
    @Option(name: .customLong("answer-field")) var answerField = "answer"
    @Option(name: .customLong("prompt-template"), help: "Prompt around each question, with {question}. Default: \"Question: {question}\\nAnswer:\\n\".")
    var promptTemplate: String?
    @Option(name: .customLong("chat-template"), help: "auto (the model's template from base/tokenizer_config.json), none (the plain prompt template) or a Jinja FILE: the question goes in as a user message, with the generation prompt added. Default: auto when the model has a chat template and no --prompt-template is given, else none.")
    var chatTemplate: String?
    @Option(name: .customLong("reward-command"), help: "Score leaves with this shell command (JSON lines in, one number per line out) instead of the built-in verifier.")
    var rewardCommand: String?

    @Option(name: .customLong("reward-timeout"), help: "Seconds one call of --reward-command may take before the run stops with an error.")
    var rewardTimeout = TrainingConfig.defaultRewardTimeout

    // Algorithm and tree.
    @Option(help: "Named method: treerpo, grpo-plain (every group trains, as TRL) or grpo-filtered (tau and pruning as TreeRPO, as DAPO). Sets --algorithm, --tau and pruning; give it instead of them.")
    var preset: TrainingConfig.Preset?
    @Option(help: "treerpo or grpo (a depth-1 tree of --group-size complete answers; with the default --tau and pruning this is grpo-filtered).")
    var algorithm: TrainingConfig.Algorithm?
    @Option(name: .customLong("group-size"), help: "GRPO: answers per question.")
    var groupSize = TrainingConfig().groupSize
    @OptionGroup(title: "Tree") var tree: TreeOptions
    @Option(help: "Random seed (sampling and the order of the questions).") var seed: UInt64 = 0
    @Option(name: .customLong("data-seed"), help: "Built-in task: the seed of the training questions (independent of --seed, disjoint from the bundled model's pretraining corpus).")
    var dataSeed = TrainingConfig().dataSeed

    // Advantages.
    @Option(name: .customLong("advantage-norm"), help: "group, none, tree or batch.")
    var advantageNorm: AdvantageNormalization = TrainingConfig().advantages.normalization
    @Option(help: "Inner-node values: children (recursive mean) or descendantLeaves (mean over the leaves below).")
    var values: ValueAggregation = TrainingConfig().advantages.values
    @Option(help: "Drop sibling groups whose values spread less than this (default \(TrainingConfig().advantages.tau)).")
    var tau: Double?
    @Flag(name: .customLong("no-prune"), help: "Keep trees whose leaves all agree.")
    var noPrune = false

    // Loss and optimiser.
    @Option(name: .customLong("eps-low")) var epsLow: Float = TrainingConfig().epsLow
    @Option(name: .customLong("eps-high")) var epsHigh: Float = TrainingConfig().epsHigh
    @Option(help: "KL weight to the starting model (0 skips the reference forward).") var beta: Float = 0
    @Option(help: "token-mean or sequence-mean.") var aggregation: LossAggregation = .tokenMean
    @Option(help: "Peak learning rate.") var lr = TrainingConfig().learningRate
    @Option(name: .customLong("warmup-steps")) var warmupSteps = 0
    @Option(help: "constant or cosine.") var schedule: LearningRateSchedule.Shape = .constant
    @Option(name: .customLong("weight-decay")) var weightDecay = TrainingConfig().adam.weightDecay
    @Option(name: .customLong("max-grad-norm"), help: "Global gradient-norm clip (0 = off).")
    var maxGradNorm = TrainingConfig().maxGradNorm
    @Option(name: .customLong("ppo-epochs"), help: "Optimiser updates per sampled batch.") var ppoEpochs = 1

    // Loop.
    @Option(help: "Training steps.") var steps = TrainingConfig().steps
    @Option(name: .customLong("max-sampled-tokens"), help: "Stop once this many tokens have been sampled (0 = no limit); equal budgets for comparing algorithms.")
    var maxSampledTokens = 0
    @Option(name: .customLong("prompts-per-step"), help: "Questions (trees) per step.")
    var promptsPerStep = TrainingConfig().promptsPerStep
    @Option(name: .customLong("micro-batch-tokens"), help: "Most packed tokens per forward/backward; gradients accumulate over micro-batches.")
    var microBatchTokens = TrainingConfig().microBatchTokens
    @Option(name: .customLong("checkpoint-every")) var checkpointEvery = TrainingConfig().checkpointEvery
    @Option(name: .customLong("keep-checkpoints")) var keepCheckpoints = TrainingConfig().keepCheckpoints
    @Option(name: .customLong("tree-dump-every")) var treeDumpEvery = TrainingConfig().treeDumpEvery
    @Option(name: .customLong("eval-every"), help: "Held-out evaluation every N steps (0 = never).") var evalEvery = 0
    @Option(name: .customLong("eval-questions")) var evalQuestions = TrainingConfig().evalQuestions
    @Option(name: .customLong("eval-samples")) var evalSamples = TrainingConfig().evalSamples

    @Flag(help: "Print one JSON metrics line per step instead of the progress bar.") var json = false

    @OptionGroup var runtime: RuntimeOptions

    @OptionGroup var mpi: MPIOptions

    func validate() throws {
        if data != nil && task != nil { throw ValidationError("give --data FILE or --task arithmetic, not both") }
        if let task, task != "arithmetic" { throw ValidationError("--task: expected arithmetic, found \(task)") }
        if resume && runName == nil { throw ValidationError("--resume needs --run NAME (the run to continue)") }
        if preset != nil && (algorithm != nil || tau != nil || noPrune) {
            throw ValidationError("--preset sets --algorithm, --tau and pruning; give the preset or those options, not both")
        }
        if promptTemplate != nil, let chat = chatTemplate, chat != "none" {
            throw ValidationError("--prompt-template and --chat-template \(chat) exclude each other")
        }
        guard tree.temperature > 0 else { throw ValidationError("--temperature must be > 0 for training, got \(tree.temperature)") }
    }

    func trainingConfig() throws -> TrainingConfig {
        var c = TrainingConfig()
        c.algorithm = algorithm ?? .treerpo
        c.groupSize = groupSize
        c.tree = try tree.shape()
        c.temperature = tree.temperature
        c.topP = tree.topP
        c.topK = tree.topK
        c.seed = seed
        c.advantages.normalization = advantageNorm
        c.advantages.values = values
        c.advantages.tau = tau ?? c.advantages.tau
        c.advantages.pruneUniformTrees = !noPrune
        if let preset { c.apply(preset) }
        c.dataSeed = dataSeed
        c.epsLow = epsLow
        c.epsHigh = epsHigh
        c.beta = beta
        c.aggregation = aggregation
        c.learningRate = lr
        c.warmupSteps = warmupSteps
        c.schedule = schedule
        c.adam.weightDecay = weightDecay
        c.maxGradNorm = maxGradNorm
        c.ppoEpochs = ppoEpochs
        c.steps = steps
        c.maxSampledTokens = maxSampledTokens
        c.promptsPerStep = promptsPerStep
        c.microBatchTokens = microBatchTokens
        c.checkpointEvery = checkpointEvery
        c.keepCheckpoints = keepCheckpoints
        c.treeDumpEvery = treeDumpEvery
        c.evalEvery = evalEvery
        c.evalQuestions = evalQuestions
        c.evalSamples = evalSamples
        c.data = data.map { URL(fileURLWithPath: $0).standardizedFileURL.path } ?? "arithmetic"
        c.questionField = questionField
        c.answerField = answerField
        c.promptTemplate = promptTemplate
        c.chatTemplate = chatTemplate
        c.rewardCommand = rewardCommand
        c.rewardTimeout = rewardCommand == nil ? nil : rewardTimeout
        return c
    }

    func run() throws {
        runtime.apply()
        let job = try MPIJob.start(timeoutSeconds: mpi.mpiTimeout)
        let ws = Workspace(root: URL(fileURLWithPath: workspace))
        // Rank 0's default name (clocks of the ranks may differ by a second).
        let name = String(decoding: try job.broadcast(Array((runName ?? Self.defaultRunName()).utf8)), as: UTF8.self)
        let trainer = try Trainer(workspace: ws, config: try trainingConfig(), runName: name, resume: resume, communicator: job)
        guard job.isRoot else {
            // The other ranks train and print nothing; rank 0 reports.
            try trainer.run()
            return
        }
        if let fresh = trainer.freshStartOnResume {
            FileHandle.standardError.write(Data("note: \(fresh)\n".utf8))
        } else if resume {
            let ignored = Self.ignoredOnResume(CommandLine.arguments.dropFirst())
            if !ignored.isEmpty {
                FileHandle.standardError.write(Data("""
                    note: --resume continues with the run's saved settings (runs/\(name)/config.json); \
                    ignored: \(ignored.joined(separator: ", "))

                    """.utf8))
            }
        }
        trainer.memoryLimitBytes = try tree.memoryLimitBytes()
        let c = trainer.config
        let shape = c.treeShape
        FileHandle.standardError.write(Data("""
            run \(name) in \(trainer.runFolder.path)\(resume && trainer.freshStartOnResume == nil ? " (resumed at step \(trainer.nextStep))" : "")\(job.size > 1 ? ", \(job.size) ranks of \(Compute.threads) thread\(Compute.threads == 1 ? "" : "s") (mpirun)" : "")
            \(c.methodName): depth \(shape.depth), branching \(shape.branching.map(String.init).joined(separator: ",")), step \(shape.stepTokens) tokens, up to \(c.leavesPerTree) leaves per question, \(c.promptsPerStep) questions per step
            data: \(trainer.data.source)
            \(Self.samplingNote(c))
            prompt: \(trainer.data.template.summary)

            """.utf8))
        let progress = ProgressLine(totalSteps: c.steps, maxSampledTokens: c.maxSampledTokens, enabled: !json)
        do {
            try trainer.run { m in
                if json { print((try? m.jsonLine()) ?? "") } else { progress.update(m) }
            }
        } catch {
            progress.finish()
            let kept = trainer.lastCheckpoint.map { "last good checkpoint: \($0.folder.path)" } ?? "no checkpoint was written"
            FileHandle.standardError.write(Data("\(kept)\n".utf8))
            throw error
        }
        progress.finish()
        if let ref = trainer.lastCheckpoint { print("checkpoint: \(ref.folder.path)") }
        print("metrics: \(trainer.metricsFile.path)")
    }

    /// The importance ratio uses the model's own softmax at temperature 1 as the sampling
    /// policy; a run that samples otherwise is told so (docs/method.md "Loss").
    static func samplingNote(_ c: TrainingConfig) -> String {
        guard c.temperature != 1 || c.topP < 1 || c.topK > 0 else { return "" }
        return "note: sampling at temperature \(c.temperature), top-p \(c.topP), top-k \(c.topK) draws from another distribution than the temperature-1 policy the importance ratio divides by; the ratio does not correct for it (docs/method.md)\n"
    }

    /// Options that choose which run to continue and how to run it, as opposed to training settings.
    static let resumeOptions: Set<String> = ["--run", "--resume", "--workspace", "--threads", "--json", "--max-memory", "--mpi-timeout"]

    /// The training settings given on a `--resume` command line (they do not apply: the run
    /// keeps its saved config so that it ends as an uninterrupted run would).
    static func ignoredOnResume<S: Sequence<String>>(_ arguments: S) -> [String] {
        var ignored: [String] = []
        for argument in arguments where argument.hasPrefix("--") {
            let option = String(argument.prefix { $0 != "=" })
            if !resumeOptions.contains(option) && !ignored.contains(option) { ignored.append(option) }
        }
        return ignored
    }

    static func defaultRunName() -> String {
        let f = DateFormatter()
        f.dateFormat = "yyyyMMdd-HHmmss"
        f.locale = Locale(identifier: "en_US_POSIX")
        return "run-" + f.string(from: Date())
    }
}

extension TrainingConfig.Algorithm: ExpressibleByArgument {}
extension TrainingConfig.Preset: ExpressibleByArgument {}
extension AdvantageNormalization: ExpressibleByArgument {}
extension ValueAggregation: ExpressibleByArgument {}
extension LossAggregation: ExpressibleByArgument {}
extension LearningRateSchedule.Shape: ExpressibleByArgument {}
