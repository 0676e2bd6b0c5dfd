import ArgumentParser
import Foundation
import Sampling
import Tensors
import Tokenization
import ModelIO
import Transformer
import TreeRPO

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text from the imported model (workspace base/), streaming it to stdout."
    )

    @Option(help: "Workspace holding the imported model in base/.")
    var workspace = Workspace.defaultFolderName

    @Option(help: "Prompt text: used as is, or the user message when a chat template applies.")
    var prompt: String

    @Option(name: .customLong("chat-template"), help: "auto (the model's template from base/tokenizer_config.json), none (the prompt as is) or a Jinja FILE: the prompt goes in as a user message, with the generation prompt added. Default: auto when the model has a chat template, else none.")
    var chatTemplate: String?

    @Option(name: .customLong("max-tokens"), help: "Most new tokens to generate.")
    var maxTokens = 64

    @Option(help: "Sampling temperature (0 = greedy).")
    var temperature: Float = 1

    @Option(name: .customLong("top-p"), help: "Nucleus sampling: keep the most likely tokens up to this probability (1 = off).")
    var topP: Float = 1

    @Option(name: .customLong("top-k"), help: "Keep only the k most likely tokens (0 = off).")
    var topK = 0

    @Option(help: "Random seed: the same seed gives the same output.")
    var seed: UInt64 = 0

    @Flag(help: "Always pick the most likely token.")
    var greedy = false

    @Flag(help: "Print one JSON object per generated token: id, text, logprob (model log-probability at temperature 1), sampling_logprob.")
    var json = false

    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        guard maxTokens >= 1 else { throw ValidationError("--max-tokens must be at least 1, got \(maxTokens)") }
        guard temperature >= 0, temperature.isFinite else { throw ValidationError("--temperature must be >= 0, got \(temperature)") }
        guard topP > 0 && topP <= 1 else { throw ValidationError("--top-p must be in (0, 1], got \(topP)") }
        guard topK >= 0 else { throw ValidationError("--top-k must be >= 0, got \(topK)") }
    }

    struct TokenLine: Encodable {
        var id: Int, text: String, logprob: Float
        var sampling_logprob: Float
    }

    func run() throws {
        runtime.apply()
        let loaded = try WorkspaceModel.load(Workspace(root: URL(fileURLWithPath: workspace)), requireStopTokens: false)
        let (tokenizer, model) = (loaded.tokenizer, loaded.model)
        // Same resolution as sample: a chat-rendered prompt already holds the special tokens its
        // template writes, so it is encoded without the tokenizer's own (as apply_chat_template).
        let base = URL(fileURLWithPath: workspace).appendingPathComponent("base")
        let format = try ChatPromptSpec.resolve(chatTemplate, base: base).map(PromptTemplate.chat) ?? .plain
        let promptIds = try format.promptTokens(question: prompt, tokenizer: tokenizer)
        if format.chat != nil {
            FileHandle.standardError.write(Data("\(format.summary)\nprompt (\(promptIds.count) tokens): \(try format.renderChecked(question: prompt).debugDescription)\n".utf8))
        }
        let options = GenerationOptions(
            maxNewTokens: maxTokens,
            sampler: SamplerChain(temperature: temperature, topK: topK, topP: topP, greedy: greedy),
            seed: seed, stopTokens: loaded.stopTokens)

        // Streaming text: decode everything generated so far and print what is new, holding
        // back while the text ends inside a multi-byte character (U+FFFD).
        var ids: [Int] = [], printed = ""
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        _ = try Generator(model: model).generate(prompts: [promptIds], options: options) { _, token in
            ids.append(token.id)
            if json {
                let line = TokenLine(id: token.id, text: tokenizer.decode([token.id]), logprob: token.logprob,
                                     sampling_logprob: token.samplingLogprob)
                if let data = try? encoder.encode(line) { print(String(decoding: data, as: UTF8.self)) }
                return
            }
            let text = tokenizer.decode(ids, skipSpecialTokens: true)
            guard !text.hasSuffix("\u{FFFD}"), text.hasPrefix(printed) else { return }
            FileHandle.standardOutput.write(Data(text.dropFirst(printed.count).utf8))
            printed = text
        }
        if !json { print("") }
    }
}
