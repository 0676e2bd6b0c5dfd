import ArgumentParser
import Foundation
import ModelIO
import TreeRPO

struct Diagnose: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure what predicts a training run before it runs.",
        subcommands: [DiagnoseGradientSNR.self]
    )
}

struct DiagnoseGradientSNR: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gradient-snr",
        abstract: "Signal-to-noise ratio of each estimator's policy gradient per sampled token (TreeRPO with each advantage normalisation, GRPO).",
        discussion: """
            On a fixed set of the built-in arithmetic task's training questions, at the imported \
            model's weights (nothing is updated): each estimator draws --estimates independent \
            batches, one tree (TreeRPO) or one group of --group-size answers (GRPO) per question, \
            and computes the gradient of the policy loss with its own advantages (tau 0 and no \
            pruning unless --filtered). The reference gradient is the plain policy gradient, \
            advantage r - mean reward of the question's group, no std, over \
            --reference-samples answers per question. Each estimate's signal is its projection \
            on the reference's direction; SNR = mean^2 / variance - 1 / estimates, and per 1k \
            sampled tokens it is divided by the tokens an estimate sampled, so estimators \
            compare at equal sampling cost. docs/method.md has the definitions.
            """
    )

    @Option(help: "Workspace holding the imported model in base/.")
    var workspace = Workspace.defaultFolderName

    @OptionGroup(title: "Tree") var tree: TreeOptions

    @Option(name: .customLong("group-size"), help: "GRPO: answers per question.")
    var groupSize = GradientDiagnosticSettings().groupSize

    @Option(help: "Training questions of the built-in arithmetic task in every batch (the first N of --data-seed's pool).")
    var questions = 8

    @Option(help: "Independent batches per estimator (at least 3).")
    var estimates = GradientDiagnosticSettings().estimates

    @Option(name: .customLong("reference-samples"), help: "Answers per question behind the reference gradient (a multiple of --reference-group-size, at least twice it).")
    var referenceSamples = GradientDiagnosticSettings().referenceSamples

    @Option(name: .customLong("reference-group-size"), help: "The reference is drawn in groups of this many answers per question; each group's mean reward is its baseline.")
    var referenceGroupSize = GradientDiagnosticSettings().referenceGroupSize

    @Flag(help: "Apply TreeRPO's group filters (tau 0.1, pruning trees whose leaves agree) to every estimator, as finetune's treerpo and grpo-filtered presets; default: tau 0, no pruning.")
    var filtered = false

    @Option(name: .customLong("data-seed"), help: "Built-in task: the seed of the training questions (as finetune --data-seed).")
    var dataSeed = TrainingConfig().dataSeed

    @Option(help: "Random seed of every draw.")
    var seed: UInt64 = 0

    @Flag(help: "Print one JSON object (settings, reference, per estimator its SNR and every estimate's signal, cosine and tokens).")
    var json = false

    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        guard questions >= 1 else { throw ValidationError("--questions must be at least 1, got \(questions)") }
        guard tree.temperature == 1, tree.topP == 1, tree.topK == 0 else {
            throw ValidationError("the gradient diagnostic samples from the model's own distribution (--temperature 1, --top-p 1, --top-k 0), so that every estimator and the reference estimate the same policy gradient")
        }
        let problems = try settings().validationErrors()
        guard problems.isEmpty else { throw ValidationError(problems.joined(separator: "; ")) }
    }

    func settings() throws -> GradientDiagnosticSettings {
        var s = GradientDiagnosticSettings()
        s.tree = try tree.shape()
        s.groupSize = groupSize
        s.estimates = estimates
        s.referenceSamples = referenceSamples
        s.referenceGroupSize = referenceGroupSize
        s.filtered = filtered
        s.seed = seed
        return s
    }

    func run() throws {
        runtime.apply()
        let ws = Workspace(root: URL(fileURLWithPath: workspace))
        let loaded = try WorkspaceModel.load(ws)
        let template = try PromptTemplate.resolve(promptTemplate: nil, chatTemplate: nil, base: ws.base)
        let data = try TrainingData.arithmetic(TrainingConfig().arithmetic, dataSeed: dataSeed, evalSeed: TrainingConfig().evalSeed,
                                               heldOutCount: 0, template: template)
        guard data.train.count >= questions else {
            throw InputError("--questions \(questions): data seed \(dataSeed) has \(data.train.count) training questions")
        }
        let policy = try LanguageModelPolicy(model: loaded, problems: Array(data.train.prefix(questions)), template: data.template)
        policy.memoryLimitBytes = try tree.memoryLimitBytes()
        let settings = try settings()
        let clock = ContinuousClock()
        let started = clock.now
        func elapsed() -> Double {
            let d = (clock.now - started).components
            return Double(d.seconds) + Double(d.attoseconds) * 1e-18
        }
        let result = try GradientDiagnostic.run(policy: policy, settings: settings) { p in
            guard !json else { return }
            FileHandle.standardError.write(Data("\r\(p.phase): \(p.done)/\(p.total) (\(Int(elapsed())) s)\(p.done == p.total ? "\n" : "")".utf8))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
            return
        }
        print(Self.report(result, data: data.source, seconds: elapsed()))
    }

    /// The table and the lines that say what it measured.
    static func report(_ r: GradientDiagnosticResult, data: String, seconds: Double) -> String {
        let s = r.settings
        let treeShape = s.shape(.treerpo)
        let leaves = treeShape.branching.reduce(1, *)
        let ref = r.reference
        let count = Self.grouped
        func withError(_ x: Double?, _ e: Double?) -> String {
            guard let x else { return "- (no spread)" }
            return Self.number(x) + (e.map { " +-" + Self.number($0) } ?? "")
        }
        let lines = [
            "gradient signal-to-noise at the base model's weights (\(count(r.parameters)) parameters), \(r.questions) questions of the \(data)",
            "TreeRPO: depth \(treeShape.depth), branching \(treeShape.branching.map(String.init).joined(separator: ",")), \(treeShape.stepBoundary == .newline ? "steps to a newline (\(treeShape.minStepTokens)-\(treeShape.stepTokens) tokens)" : "\(treeShape.stepTokens)-token steps"), up to \(leaves) leaves per question; GRPO: \(s.groupSize) answers per question; \(s.filtered ? "tau 0.1 and pruning" : "tau 0, no pruning"), \(s.aggregation.rawValue) loss; \(s.estimates) estimates each",
            "reference: \(ref.answersPerQuestion) answers per question (\(ref.groups) groups of \(ref.groupSize), advantage r - group mean, no std), \(count(ref.tokensSampled)) tokens; accuracy \(String(format: "%.1f%%", 100 * ref.meanReward)); cosine between its halves \(String(format: "%.3f", ref.halvesCosine)) (estimated cosine to the true gradient \(String(format: "%.2f", ref.estimatedCosineToTrueGradient)))",
            "",
            Table.render(
                header: ["estimator", "tokens/estimate", "SNR", "SNR per 1k tokens", "mean cosine"],
                rows: r.estimators.map { row in
                    [row.name, count(Int(row.snr.meanTokens.rounded())), withError(row.snr.snr, row.snr.snrStandardError),
                     withError(row.snr.snrPerThousandTokens, row.snr.snrPerThousandTokensStandardError),
                     String(format: "%.4f", row.snr.meanCosine)]
                }),
            "",
            "SNR = mean^2 / variance - 1/\(s.estimates) of each estimate's projection on the reference (+- jackknife standard error); \(String(format: "%.0f", seconds)) s",
        ]
        return lines.joined(separator: "\n")
    }

    /// 1234567 as "1,234,567".
    static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// Three significant figures.
    static func number(_ x: Double) -> String {
        let a = abs(x)
        if a >= 100 { return String(format: "%.0f", x) }
        if a >= 10 { return String(format: "%.1f", x) }
        if a >= 1 { return String(format: "%.2f", x) }
        if a >= 0.01 || a == 0 { return String(format: "%.3f", x) }
        return String(format: "%.2e", x)
    }
}
