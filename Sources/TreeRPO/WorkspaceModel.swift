import Foundation
import Sampling
import Tokenization
import ModelIO
import Transformer

/// The imported model of a workspace with its tokenizer, optionally with a checkpoint's
/// weights: what `finetune`, `eval`, `sample` and `generate` start from (one loader, so every
/// command finds the same model, tokenizer and end-of-sequence ids, and fails the same way).
public struct WorkspaceModel {
    public let config: ModelConfig
    public let parameters: Parameters
    public let model: TransformerModel
    public let tokenizer: Tokenizer
    /// End-of-sequence ids: the config's `eos_token_id` (one or a list).
    public let stopTokens: Set<Int>
    /// Where the weights came from: "base" or the checkpoint.
    public let weightsSource: String

    /// Loads `base/` of `workspace`, with the weights of `checkpoint` when given.
    /// `requireStopTokens`: refuse a model whose config names no `eos_token_id` (training and
    /// evaluation must know where an answer ends; generation can run to its token budget).
    public static func load(_ workspace: Workspace, checkpoint: CheckpointRef? = nil,
                            requireStopTokens: Bool = true) throws -> WorkspaceModel {
        guard workspace.hasBase else {
            throw WorkspaceModelError("no imported model in \(workspace.base.path) (config.json missing); run `treerpo import MODEL` first, or choose another workspace", setting: .workspace)
        }
        guard FileManager.default.fileExists(atPath: workspace.baseTokenizer.path) else {
            throw WorkspaceModelError("\(workspace.baseTokenizer.path) is missing; import the model with its tokenizer.json")
        }
        let tokenizer = try Tokenizer(contentsOf: workspace.baseTokenizer)
        let (config, baseParameters) = try CheckpointLoading.loadFolder(workspace.base)
        let parameters = try checkpoint?.loadParameters(config: config) ?? baseParameters
        let model = try TransformerModel(config: config, parameters: parameters)
        guard !requireStopTokens || !config.eosTokenIds.isEmpty else {
            throw WorkspaceModelError("\(workspace.baseConfig.path): expected eos_token_id (training needs to know where an answer ends), found none")
        }
        return WorkspaceModel(config: config, parameters: parameters, model: model, tokenizer: tokenizer,
                              stopTokens: Set(config.eosTokenIds), weightsSource: checkpoint.map { "\($0)" } ?? "base")
    }

    /// Ids whose text contains a newline (for the newline step boundary; the sampler sees ids only).
    public func newlineTokenIds() -> Set<Int> {
        var ids = Set<Int>()
        for id in 0..<min(tokenizer.vocabularySize, config.vocabSize) where tokenizer.decode([id]).contains("\n") {
            ids.insert(id)
        }
        return ids
    }
}

public struct WorkspaceModelError: SettingError, CustomStringConvertible, Equatable {
    public let message: String
    /// The setting that would avoid it (the command line adds its flag).
    public let setting: Setting?
    public init(_ message: String, setting: Setting? = nil) {
        self.message = message
        self.setting = setting
    }
    public var description: String { message }
}
