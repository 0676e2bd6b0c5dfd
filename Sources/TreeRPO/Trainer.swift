import Distributed
import Foundation
import ModelFiles
import Sampling
import Tensors
import Tokenization
import ModelIO
import Transformer

/// The fine-tuning loop: sample trees, score leaves, values and advantages, pack, update;
/// metrics, tree dumps and checkpoints under `runs/NAME/`.
///
/// Everything random is a function of (config.seed, step): step s samples with seed
/// `stepSeed(s)` and takes the data of `TrainingData.indices(step: s)`. With the weights and
/// AdamW moments of a checkpoint, step s therefore computes the same numbers whether the run
/// got there without stopping or was killed and resumed.
///
/// In a data-parallel job (`communicator` of several ranks, docs/mpi.md) every rank runs this
/// loop: rank r samples and scores its share of each step's prompts, every rank receives all
/// trees, computes the same advantages and trains its share of the sequences; the gradients are
/// summed in rank order and every rank applies the same update. Rank 0 alone reads and writes
/// the run folder and sends the others its settings and, when it resumes, its weights and
/// optimiser state.
public final class Trainer {
    public let config: TrainingConfig
    public let runName: String
    public let workspace: Workspace
    public let data: TrainingData
    let loaded: WorkspaceModel
    let reward: any RewardFunction
    let sampler: TreeSampler
    let updater: PolicyUpdater
    let optimizer: AdamW
    let newlineTokens: Set<Int>
    public private(set) var nextStep = 0
    /// Why a `--resume` started the run from the beginning instead (nil when it resumed, or was
    /// not asked to): a run killed before it saved its settings.
    public private(set) var freshStartOnResume: String? = nil
    private var tokensSampledTotal = 0
    public private(set) var lastCheckpoint: CheckpointRef?
    /// Refuse steps whose trees could need more sampling memory than this (nil: the sampler's
    /// default, half the available memory).
    public var memoryLimitBytes: Int?
    /// The ranks of the job; a single process outside `mpirun`.
    public let communicator: any Communicator
    /// Test seam, nil in every real run: sees (and may rewrite) the trees' advantages after they
    /// are computed and before the update, so a learning test can run a control (advantages
    /// shuffled) and a leaves-only variant through the same loop.
    var rewriteAdvantages: ((inout [RolloutTree]) -> Void)?

    public var runFolder: URL { workspace.run(runName) }
    public var metricsFile: URL { runFolder.appendingPathComponent("metrics.jsonl") }
    public var configFile: URL { runFolder.appendingPathComponent("config.json") }

    /// Starts run `runName` (refusing an existing one unless `resume`), or resumes it from its
    /// newest checkpoint with its saved config (`config` is then ignored).
    public init(workspace: Workspace, config requested: TrainingConfig, runName: String, resume: Bool,
                communicator: any Communicator = SingleProcess()) throws {
        self.workspace = workspace
        self.runName = runName
        self.communicator = communicator
        let isRoot = communicator.isRoot
        let fm = FileManager.default
        let runFolder = workspace.run(runName)
        let configFile = runFolder.appendingPathComponent("config.json")
        var config = requested
        var checkpoint: CheckpointRef? = nil
        if !isRoot {
            // Rank 0 decides from the run folder; the others take its settings below.
        } else if resume && !fm.fileExists(atPath: runFolder.path) {
            throw TrainingError("cannot resume run '\(runName)': there is no \(runFolder.path)")
        } else if resume && !fm.fileExists(atPath: configFile.path) {
            // Killed before it saved its settings: nothing of it can be continued, so it starts
            // over with the settings given (a partial run folder holds no config, metrics or checkpoint).
            freshStartOnResume = "run '\(runName)' never saved its settings (\(configFile.path) does not exist): starting it from the beginning with the settings given"
        } else if resume {
            do {
                config = try JSONDecoder().decode(TrainingConfig.self, from: Data(contentsOf: configFile))
            } catch {
                throw TrainingError("cannot resume run '\(runName)': \(configFile.path) is not a training config (\(PlainErrorText.describe(error)))")
            }
            checkpoint = workspace.checkpoints(run: runName).last
        } else if fm.fileExists(atPath: runFolder.path) {
            throw TrainingError("run '\(runName)' already exists in \(workspace.runs.path); resume it to continue, or choose another run name for a new one", setting: .runName)
        }
        if communicator.size > 1 {
            let settings = try communicator.broadcast(isRoot ? Array(try config.encoded()) : [], root: 0)
            if !isRoot { config = try JSONDecoder().decode(TrainingConfig.self, from: Data(settings)) }
        }
        let problems = config.validationErrors()
        guard problems.isEmpty else { throw TrainingError("invalid settings: " + problems.joined(separator: "; ")) }
        self.config = config

        loaded = try WorkspaceModel.load(workspace)
        data = try Self.loadData(config, base: workspace.base)
        reward = config.rewardCommand.map { ExternalCommandReward(command: $0, timeout: config.rewardTimeout ?? TrainingConfig.defaultRewardTimeout) as any RewardFunction }
            ?? ExactMatchReward(formatReward: config.formatReward)
        sampler = TreeSampler(model: loaded.model)
        optimizer = AdamW(parameters: loaded.parameters, hyperparameters: config.adam)
        let reference = config.beta > 0
            ? try TransformerModel(config: loaded.config, parameters: Self.copy(loaded.parameters)) : nil
        updater = PolicyUpdater(model: loaded.model, reference: reference, optimizer: optimizer)
        newlineTokens = config.stepBoundary == .newline ? loaded.newlineTokenIds() : []
        updater.policyGradient.communicator = communicator
        guard isRoot else {
            try receiveStartingState()
            return
        }

        try fm.createDirectory(at: runFolder.appendingPathComponent("checkpoints"), withIntermediateDirectories: true)
        if let checkpoint {
            let state = try TrainerCheckpoint.load(checkpoint, into: loaded.parameters, optimizer: optimizer, config: loaded.config)
            guard state.configDigest == (try config.digest()) else {
                throw TrainingError("\(checkpoint.trainerState.path): saved with config digest \(state.configDigest), but \(configFile.path) has \(try config.digest()); the run's config changed")
            }
            nextStep = state.step
            tokensSampledTotal = state.tokensSampledTotal
            lastCheckpoint = checkpoint
        } else {
            try AtomicFile.write(try config.encoded(), to: configFile)
        }
        try truncateMetrics(after: nextStep)
        // Temporary checkpoint folders of a killed write are garbage.
        let checkpoints = workspace.checkpointsFolder(run: runName)
        for name in (try? fm.contentsOfDirectory(atPath: checkpoints.path)) ?? [] where name.hasPrefix(".") && name.contains(".tmp") {
            try? fm.removeItem(at: checkpoints.appendingPathComponent(name))
        }
        if communicator.size > 1 { try sendStartingState() }
    }

    /// The step counters, weights and AdamW state every rank starts from, as rank 0 loaded them
    /// (the base model or its checkpoint), and a check that every rank loaded the same training
    /// data and model shape: a rank on another host with another workspace ends the job here.
    private func sendStartingState() throws {
        var counters: [Int64] = [Int64(nextStep), Int64(tokensSampledTotal), Int64(optimizer.step)]
        try counters.withUnsafeMutableBytes { try communicator.broadcast($0.baseAddress!, bytes: $0.count, root: 0) }
        try broadcastWeightsAndMoments()
        try checkSameInputs()
    }

    private func receiveStartingState() throws {
        var counters = [Int64](repeating: 0, count: 3)
        try counters.withUnsafeMutableBytes { try communicator.broadcast($0.baseAddress!, bytes: $0.count, root: 0) }
        nextStep = Int(counters[0])
        tokensSampledTotal = Int(counters[1])
        optimizer.step = Int(counters[2])
        try broadcastWeightsAndMoments()
        try checkSameInputs()
    }

    private func broadcastWeightsAndMoments() throws {
        let n = loaded.parameters.count
        for buffer in [loaded.parameters.base, optimizer.m, optimizer.v] {
            try communicator.broadcast(UnsafeMutableRawPointer(buffer), bytes: n * MemoryLayout<Float>.size, root: 0)
        }
    }

    private func checkSameInputs() throws {
        var digest = Digest64()
        for p in data.train { digest.add(p.question); digest.add(p.solution) }
        let text = "model \(loaded.config.vocabSize)x\(loaded.parameters.count) parameters, \(data.train.count) training questions (digest \(digest.value)), \(data.source)"
        let differing = try communicator.ranksDiffering(from: text)
        guard differing.isEmpty else {
            throw TrainingError("rank \(communicator.rank) of \(communicator.size) loaded \(text); ranks \(differing.map(String.init).joined(separator: ", ")) differ from rank 0: every rank needs the same workspace and training data")
        }
    }

    /// A question whose prompt leaves no room for the response budget is named with its data
    /// source and index before anything is sized by it (a 50 MB line used to fail inside the
    /// sampler as "need 37500029 positions", naming neither).
    func checkPromptsFit(_ prompts: [[Int]], problems: [Problem], indices: [Int]) throws {
        let positions = loaded.config.maxPositions
        for (i, prompt) in prompts.enumerated() where prompt.count + config.maxResponseTokens > positions {
            let excerpt = problems[i].question.prefix(60)
            throw DatasetError(file: data.source, line: nil, field: nil, message: """
                training question \(indices[i]) (\(excerpt.debugDescription)\(problems[i].question.count > 60 ? "..." : "")) \
                makes a prompt of \(prompt.count) tokens; with max-response-tokens \(config.maxResponseTokens) it needs \
                \(prompt.count + config.maxResponseTokens) positions, the model has \(positions)
                """)
        }
    }

    static func loadData(_ c: TrainingConfig, base: URL) throws -> TrainingData {
        let template = try PromptTemplate.resolve(promptTemplate: c.promptTemplate, chatTemplate: c.chatTemplate, base: base)
        if c.data == "arithmetic" {
            return try TrainingData.arithmetic(c.arithmetic, dataSeed: c.dataSeed, evalSeed: c.evalSeed,
                                               heldOutCount: c.evalQuestions, template: template)
        }
        return try TrainingData.file(URL(fileURLWithPath: c.data), questionField: c.questionField,
                                     answerField: c.answerField, heldOutCount: c.evalEvery > 0 ? c.evalQuestions : 0,
                                     template: template)
    }

    private static func copy(_ p: Parameters) -> Parameters {
        let out = p.zerosLike()
        out.copy(from: p)
        return out
    }

    /// Drops metric lines of steps at or after `step` (written after the checkpoint a resumed
    /// run continues from), so the file describes one history.
    private func truncateMetrics(after step: Int) throws {
        guard FileManager.default.fileExists(atPath: metricsFile.path) else { return }
        let kept = try StepMetrics.read(metricsFile).filter { $0.step < step }
        let text = try kept.map { try $0.jsonLine() + "\n" }.joined()
        try AtomicFile.write(Data(text.utf8), to: metricsFile)
    }

    /// The sampling seed of step `step`.
    public func stepSeed(_ step: Int) -> UInt64 {
        var mix = SplitMix64(seed: config.seed ^ (UInt64(step) &+ 1) &* 0xD1B5_4A32_D192_ED03)
        return mix.next()
    }

    /// All steps done, or the sampled-token budget spent.
    public var isFinished: Bool {
        nextStep >= config.steps || (config.maxSampledTokens > 0 && tokensSampledTotal >= config.maxSampledTokens)
    }

    /// Runs the remaining steps; `onStep` sees each step's metrics as they are written.
    public func run(onStep: (StepMetrics) -> Void = { _ in }) throws {
        while !isFinished {
            let metrics = try step()
            onStep(metrics)
        }
    }

    /// One step: sample, score, advantages, update, then metrics and maybe a checkpoint.
    @discardableResult
    public func step() throws -> StepMetrics {
        let s = nextStep
        var m = StepMetrics(step: s)
        let trafficBefore = communicator.traffic
        let problems = data.indices(step: s, promptsPerStep: config.promptsPerStep, seed: config.seed).map { data.train[$0] }
        let tokenizer = loaded.tokenizer
        let template = data.template
        let prompts = try problems.map { try template.promptTokens(question: $0.question, tokenizer: tokenizer) }
        try checkPromptsFit(prompts, problems: problems, indices: data.indices(step: s, promptsPerStep: config.promptsPerStep, seed: config.seed))

        // Sample.
        let clock = ContinuousClock()
        var started = clock.now
        // For a small model, one shard of the prompts per thread, and below one worker per thread
        // for the micro-batches; a large model's products use both threads (DataParallelWorkers).
        // In a job of several ranks, this rank's share only (trees keep their step-wide streams).
        let workers = DataParallelWorkers.count(threads: Compute.threads, parameters: updater.model.parameters.count)
        let share = TreeExchange.share(rank: communicator.rank, of: communicator.size, count: prompts.count)
        var trees = try sampler.sample(prompts: Array(prompts[share]), options: samplingOptions(seed: stepSeed(s)),
                                       streams: share.map { UInt64($0) }, memoryLimitBytes: memoryLimitBytes,
                                       workers: workers)
        for (i, p) in zip(trees.indices, share) {
            trees[i].question = problems[p].question
            trees[i].reference = problems[p].solution
        }
        m.secondsSampling = seconds(clock.now - started)

        // Score leaves, then (several ranks) every rank gets every rank's scored trees.
        started = clock.now
        var scores = try LeafScores.score(&trees, tokenizer: tokenizer, reward: reward)
        (trees, scores) = try TreeExchange.gather(trees, scores: scores, over: communicator)
        m.leaves = scores.leaves
        m.rewardMean = scores.rewards.isEmpty ? 0 : scores.rewards.reduce(0, +) / Double(scores.rewards.count)
        m.leafAccuracy = scores.leaves == 0 ? 0 : Double(scores.correct) / Double(scores.leaves)
        m.meanResponseTokens = scores.leaves == 0 ? 0 : Double(scores.responseTokens) / Double(scores.leaves)
        m.stepLines = scores.lines.lines
        m.stepLineSlips = scores.lines.slips
        m.tokensSampled = trees.reduce(0) { $0 + $1.stepTokenCount }
        m.flopsSampling = StepWork.samplingFlops(trees, config: updater.model.config)
        tokensSampledTotal += m.tokensSampled
        m.tokensSampledTotal = tokensSampledTotal

        // Values and advantages.
        let stats = try Advantages.compute(&trees, config: config.advantages)
        rewriteAdvantages?(&trees)
        m.trees = stats.trees
        m.treesPruned = stats.treesPruned
        m.groups = stats.groups
        m.groupsKept = stats.groupsKept
        m.groupsDroppedPruned = stats.groupsInPrunedTrees
        m.groupsDroppedSingleChild = stats.groupsSingleChild
        m.groupsDroppedBelowTau = stats.groupsBelowTau
        m.groupsPerDepth = stats.groupsPerDepth
        m.groupsKeptPerDepth = stats.groupsKeptPerDepth
        m.groupsTiedPerDepth = stats.groupsTiedPerDepth
        let advantages = trees.flatMap { $0.nodes.compactMap(\.advantage) }
        if !advantages.isEmpty {
            let mean = advantages.reduce(0, +) / Double(advantages.count)
            m.advantageStd = (advantages.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(advantages.count)).squareRoot()
            m.advantageMeanAbs = advantages.reduce(0) { $0 + abs($1) } / Double(advantages.count)
        }

        // Update on the trees that carry any loss.
        m.learningRate = config.learningRate(step: s, tokensSampledBefore: tokensSampledTotal - m.tokensSampled,
                                             tokensSampledAfter: tokensSampledTotal)
        m.tokensPathExpanded = trees.reduce(0) { total, tree in
            total + tree.leaves.reduce(0) { $0 + tree.promptTokens.count + tree.responseTokens(to: $1).count }
        }
        var sequences = TreePacking.lossSequences(trees, aggregation: config.aggregation, maxTokens: config.microBatchTokens)
        if communicator.size > 1 && sequences.count < communicator.size {
            // Fewer micro-batches than ranks would leave ranks idle while one trains alone (a real
            // model's step often packs into one): smaller ones, about one per rank. The same loss
            // (each token's weight is set over the whole batch before packing), other rounding.
            let packed = sequences.reduce(0) { $0 + $1.count }
            sequences = TreePacking.lossSequences(trees, aggregation: config.aggregation,
                                                  maxTokens: max(16, (packed + communicator.size - 1) / communicator.size))
        }
        m.flopsTraining = StepWork.trainingFlops(sequences, config: updater.model.config, epochs: config.ppoEpochs,
                                                 referenceModel: config.beta > 0)
        if !sequences.isEmpty {
            m.tokensTrained = sequences.reduce(0) { $0 + $1.lossTokens.count }
            m.tokensPacked = sequences.reduce(0) { $0 + $1.count }
            let settings = PolicyLossSettings(epsLow: config.epsLow, epsHigh: config.epsHigh, beta: config.beta)
            updater.policyGradient.workers = workers
            let r = try updater.update(sequences, settings: settings, epochs: config.ppoEpochs, maxGradNorm: config.maxGradNorm,
                                       learningRate: m.learningRate, step: s)
            m.loss = r.loss
            m.kl = r.kl
            m.entropy = r.entropy
            m.clipFraction = r.clipFraction
            m.gradNorm = r.gradNorm
        }
        m.secondsTraining = seconds(clock.now - started)
        nextStep = s + 1

        if config.evalEvery > 0, nextStep % config.evalEvery == 0 || isFinished {
            // The per-question counts stay out of the metrics line (one line per step stays short).
            var result = try evaluate()
            result.correctPerQuestion = nil
            m.eval = result
        }
        if communicator.size > 1 {
            m.secondsExchanging = communicator.traffic.seconds - trafficBefore.seconds
            m.bytesSent = communicator.traffic.bytesSent - trafficBefore.bytesSent
        }
        guard communicator.isRoot else { return m }
        try appendMetrics(m)
        if config.treeDumpEvery > 0, s % config.treeDumpEvery == 0 {
            try TreeDump.write(Array(trees.prefix(2)), tokenizer: tokenizer,
                               to: runFolder.appendingPathComponent("trees").appendingPathComponent(String(format: "step-%08d.json", s)))
        }
        if nextStep % config.checkpointEvery == 0 || isFinished {
            try saveCheckpoint()
        }
        return m
    }

    public func samplingOptions(seed: UInt64) -> TreeSamplingOptions {
        TreeSamplingOptions(
            shape: config.treeShape, newlineTokens: newlineTokens,
            sampler: SamplerChain(temperature: config.temperature, topK: config.topK, topP: config.topP),
            seed: seed, stopTokens: loaded.stopTokens)
    }

    /// Held-out Pass@1 etc. of the current weights.
    public func evaluate() throws -> EvaluationResult {
        try Evaluation.run(model: loaded.model, tokenizer: loaded.tokenizer, problems: Array(data.heldOut.prefix(config.evalQuestions)),
                           template: data.template, stopTokens: loaded.stopTokens,
                           options: EvaluationOptions(samples: config.evalSamples, temperature: config.evalTemperature,
                                                      maxResponseTokens: config.maxResponseTokens, seed: config.evalSeed),
                           communicator: communicator)
    }

    private func appendMetrics(_ m: StepMetrics) throws {
        let line = Data((try m.jsonLine() + "\n").utf8)
        if !FileManager.default.fileExists(atPath: metricsFile.path) {
            FileManager.default.createFile(atPath: metricsFile.path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: metricsFile)
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: line)
    }

    @discardableResult
    public func saveCheckpoint() throws -> CheckpointRef {
        let state = TrainerState(run: runName, step: nextStep, optimizerStep: optimizer.step, configDigest: try config.digest(),
                                 tokensSampledTotal: tokensSampledTotal, dataPosition: nextStep * config.promptsPerStep,
                                 savedAt: ISO8601DateFormatter().string(from: Date()))
        let ref = try TrainerCheckpoint.save(loaded.parameters, optimizer: optimizer, state: state, workspace: workspace,
                                             keep: config.keepCheckpoints)
        lastCheckpoint = ref
        return ref
    }

    /// The policy being trained (its parameters change with every update).
    public var model: TransformerModel { loaded.model }
    public var tokenizer: Tokenizer { loaded.tokenizer }

    private func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}
