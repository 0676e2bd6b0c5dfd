import ArgumentParser
import Foundation
import Sampling
import Tensors
import Tokenization
import ModelIO
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
        let loaded = try WorkspaceModel.load(Workspace(root: URL(fileURLWithPath: workspace)), requireStopTokens: false)
        let (tokenizer, model) = (loaded.tokenizer, loaded.model)
        let (text, problem) = try promptText()
        let format = try promptTemplate()
        // A chat-rendered prompt already holds the special tokens its template writes.
        let promptIds = tokenizer.encode(text, addSpecialTokens: format.addSpecialTokens)
        let budget = try tree.responseBudget(promptLength: promptIds.count, positions: model.config.maxPositions)
        if let note = budget.note { FileHandle.standardError.write(Data((note + "\n").utf8)) }
        let options = try tree.samplingOptions(
            seed: seed, newlineTokens: tree.stepBoundary == .newline ? loaded.newlineTokenIds() : [],
            stopTokens: loaded.stopTokens, maxResponseTokens: budget.tokens)
        let sampler = TreeSampler(model: model)
        var sampled = try sampler.sample(prompts: [promptIds], options: options, memoryLimitBytes: try tree.memoryLimitBytes())[0]
        sampled.question = problem?.question ?? prompt ?? text
        sampled.reference = problem?.reference ?? ""
        let stats = sampler.lastStats
        if json {
            let dump = SampledTreeDump(tree: sampled, prompt: text, tokenizer: tokenizer, stats: stats)
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
