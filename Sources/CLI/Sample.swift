import ArgumentParser
import Foundation
import Sampling
import Tensors
import Tokenization
import Transformer
import TreeRPO

struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sample a reasoning tree from the imported model (workspace base/) and draw it or dump it as JSON.",
        discussion: """
        The root is the prompt; each node adds one step; a node is a leaf when its step ends with \
        EOS, when the response budget is spent, or at depth D. With --data the question is \
        rendered through --template (arithmetic: "Question: {question}\\nAnswer:\\n").
        """
    )

    @Option(help: "Workspace holding the imported model in base/.")
    var workspace = Workspace.defaultFolderName

    @Option(help: "Prompt text: used as is, or the user message when a chat template applies.")
    var prompt: String?

    @Option(help: "JSONL dataset (fields question/answer); use with --index.")
    var data: String?

    @Option(help: "Line of --data to use, counting from 0 (blank lines skipped).")
    var index: Int?

    @Option(help: "Prompt template for --data: arithmetic (the default), plain, or a text holding {question}; only without a chat template.")
    var template: String?

    @Option(name: .customLong("chat-template"), help: "auto (the model's template from base/tokenizer_config.json), none (the plain prompt template) or a Jinja FILE: the question goes in as a user message, with the generation prompt added. Default: auto when the model has a chat template and no --prompt-template is given, else none.")
    var chatTemplate: String?

    @OptionGroup var tree: TreeOptions

    @Option(help: "Random seed: the same seed gives the same tree.")
    var seed: UInt64 = 0

    @Flag(help: "Print the tree as one JSON object instead of drawing it.")
    var json = false

    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        guard (prompt == nil) != (data == nil) else { throw ValidationError("give either --prompt TEXT or --data FILE --index I") }
        if data != nil, index == nil { throw ValidationError("--data needs --index I (the line, from 0)") }
        if let index, index < 0 { throw ValidationError("--index must be >= 0, got \(index)") }
        if template != nil, let chat = chatTemplate, chat != "none" {
            throw ValidationError("--template and --chat-template \(chat) exclude each other")
        }
        _ = try textTemplate()
    }

    /// The chat template when one applies (see --chat-template), else the --template one.
    func promptTemplate() throws -> PromptTemplate {
        let base = URL(fileURLWithPath: workspace).appendingPathComponent("base")
        if let spec = try ChatPromptSpec.resolve(template == nil ? chatTemplate : "none", base: base) {
            return try PromptTemplate.chat(spec)
        }
        return try textTemplate()
    }

    func textTemplate() throws -> PromptTemplate {
        switch template ?? "arithmetic" {
        case "arithmetic": return .arithmetic
        case "plain": return .plain
        default:
            do { return try PromptTemplate(template!, source: "--template") } catch { throw ValidationError("\(error)") }
        }
    }

    /// The prompt text, and the problem when it comes from --data.
    func promptText() throws -> (String, Problem?) {
        if let prompt {
            let template = try promptTemplate()
            return (template.chat == nil ? prompt : try template.renderChecked(question: prompt), nil)
        }
        let problems = try Dataset.load(URL(fileURLWithPath: data!))
        guard let index, index < problems.count else {
            throw ValidationError("--index \(index ?? -1) is past the end of \(data!) (\(problems.count) problems, 0...\(problems.count - 1))")
        }
        let problem = problems[index]
        return (try promptTemplate().renderChecked(question: problem.question), problem)
    }

    func run() throws {
        runtime.apply()
        let base = URL(fileURLWithPath: workspace).appendingPathComponent("base")
        guard FileManager.default.fileExists(atPath: base.appendingPathComponent("config.json").path) else {
            throw InputError("no imported model in \(base.path) (config.json missing); run `treerpo import MODEL` first, or pass --workspace")
        }
        let tokenizerURL = base.appendingPathComponent("tokenizer.json")
        guard FileManager.default.fileExists(atPath: tokenizerURL.path) else {
            throw InputError("\(tokenizerURL.path) is missing; re-run `treerpo import` to write the tokenizer")
        }
        let tokenizer = try Tokenizer(contentsOf: tokenizerURL)
        let model = try TransformerModel(folder: base)
        let (text, problem) = try promptText()
        let format = try promptTemplate()
        // A chat-rendered prompt already holds the special tokens its template writes.
        let promptIds = tokenizer.encode(text, addSpecialTokens: format.addSpecialTokens)
        let budget = tree.responseBudget(promptLength: promptIds.count, positions: model.config.maxPositions)
        if let note = budget.note { FileHandle.standardError.write(Data((note + "\n").utf8)) }
        let options = try tree.samplingOptions(
            seed: seed, newlineTokens: TreeOptions.newlineTokenIds(tokenizer, vocab: model.config.vocabSize),
            stopTokens: Set(model.config.eosTokenIds), maxResponseTokens: budget.tokens)
        let sampler = TreeSampler(model: model)
        var sampled = try sampler.sample(prompts: [promptIds], options: options, memoryLimitBytes: try tree.memoryLimitBytes())[0]
        sampled.question = problem?.question ?? prompt ?? text
        sampled.reference = problem?.reference ?? ""
        let stats = sampler.lastStats
        if json {
            let dump = TreeDump(tree: sampled, prompt: text, tokenizer: tokenizer, stats: stats)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(dump), as: UTF8.self))
            return
        }
        print("prompt (\(promptIds.count) tokens): \(text.debugDescription)")
        if let problem { print("reference answer: \(problem.reference)") }
        print("tree: depth \(options.depth), branching \(options.branching.map(String.init).joined(separator: ",")), "
              + "step \(options.stepTokens) tokens (\(tree.stepBoundary.rawValue)), budget \(options.maxResponseTokens), seed \(seed)")
        print(TreeDrawing.render(sampled) { tokenizer.decode($0) })
        print(TreeDrawing.summary(stats))
    }
}

/// Text pictures of rollout trees: one line per step, indented by depth.
enum TreeDrawing {
    static func render(_ tree: RolloutTree, decode: ([Int]) -> String) -> String {
        let hasValues = tree.nodes.contains { $0.reward != nil || $0.advantage != nil }
        var lines: [String] = []
        func draw(_ node: Int, prefix: String) {
            let children = tree[node].children
            for (k, c) in children.enumerated() {
                let last = k == children.count - 1, n = tree[c]
                var facts = ["\(n.tokens.count) tok", n.finishReason.map(describe) ?? "open",
                             String(format: "logp %.2f", n.logProbs.reduce(0, +))]
                if hasValues {
                    if let r = n.reward { facts.append(String(format: "reward %.2f", r)) }
                    facts.append(String(format: "value %.3f", n.value))
                    if let a = n.advantage { facts.append(String(format: "adv %+.3f", a)) }
                }
                lines.append(prefix + (last ? "└─ " : "├─ ") + "[\(c)] \(decode(n.tokens).debugDescription)  (\(facts.joined(separator: ", ")))")
                draw(c, prefix: prefix + (last ? "   " : "│  "))
            }
        }
        draw(RolloutTree.root, prefix: "")
        return lines.joined(separator: "\n")
    }

    static func describe(_ reason: FinishReason) -> String {
        switch reason {
        case .eos: "EOS"
        case .stepLength: "step end"
        case .depth: "cut at depth D"
        case .budget: "budget spent"
        }
    }

    static func summary(_ s: TreeSamplingStats) -> String {
        String(format: "%d leaves, %d tokens sampled; computed %d tokens in %d forwards (prompt %d + steps %d - %d leaf ends never fed) of %d root-to-leaf path tokens: %.1f%% saved by prefix sharing; %.2f s",
               s.leaves, s.sampledTokens, s.computedTokens, s.forwards, s.promptTokens, s.sampledTokens, s.leaves,
               s.leafPathTokens, 100 * s.shareSaved, s.wallSeconds)
    }
}

/// The JSON form of a sampled tree (`treerpo sample --json`).
struct TreeDump: Encodable {
    struct Node: Encodable {
        var index: Int, parent: Int?, depth: Int, children: [Int]
        var tokens: [Int], text: String, log_probs: [Float]
        var finish_reason: String?, reward: Double?, value: Double, advantage: Double?
    }
    struct Stats: Encodable {
        var leaves: Int, sampled_tokens: Int, computed_tokens: Int, prompt_tokens: Int, forwards: Int
        var leaf_path_tokens: Int, share_saved: Double, wall_seconds: Double, kv_slots_used: Int, kv_bytes_planned: Int
    }
    var prompt: String, question: String, reference: String, prompt_tokens: [Int]
    var nodes: [Node]
    var stats: Stats

    init(tree: RolloutTree, prompt: String, tokenizer: Tokenizer, stats s: TreeSamplingStats) {
        self.prompt = prompt
        question = tree.question
        reference = tree.reference
        prompt_tokens = tree.promptTokens
        nodes = tree.nodes.enumerated().map { i, n in
            Node(index: i, parent: n.parent, depth: n.depth, children: n.children, tokens: n.tokens,
                 text: tokenizer.decode(n.tokens), log_probs: n.logProbs, finish_reason: n.finishReason?.rawValue,
                 reward: n.reward, value: n.value, advantage: n.advantage)
        }
        stats = Stats(leaves: s.leaves, sampled_tokens: s.sampledTokens, computed_tokens: s.computedTokens,
                      prompt_tokens: s.promptTokens, forwards: s.forwards, leaf_path_tokens: s.leafPathTokens,
                      share_saved: s.shareSaved, wall_seconds: s.wallSeconds, kv_slots_used: s.kvSlotsUsed,
                      kv_bytes_planned: s.plan?.kvBytes ?? 0)
    }
}
