/// The settings the libraries name in their errors. The libraries know settings, not command
/// lines: an error caused by one names it here, and the command line, which knows its flags, adds
/// the flag (`treerpo`'s `CommandLineFlags`).
public enum Setting: String, Sendable, CaseIterable {
    /// The most bytes a sampling call may plan for (`TreeSampler.sample(memoryLimitBytes:)`).
    case memoryLimit
    /// The workspace folder.
    case workspace
    /// A fine-tuning run's name (a new run needs a new one; an existing one is resumed).
    case runName
    /// The built-in task's training-question seed (`TrainingConfig.dataSeed`).
    case dataSeed
    case promptTemplate
    case chatTemplate
    /// The token count of the training benchmark.
    case benchmarkTokens
    /// Evaluation results saved with their per-question counts (`correct_per_question`).
    case perQuestionCounts
    /// A config.json given with an import (the model file records none, or an unusable one).
    case modelConfig
    /// A tokenizer.json given with an import.
    case tokenizer
    /// Replacing the model a workspace already holds.
    case replaceModel
    /// Replacing a previous export in the output folder.
    case replaceExport
    /// The export format (ONNX, GGUF, safetensors).
    case exportFormat
    /// The tensor type of a GGUF export.
    case ggufType
    /// The folder an export writes.
    case exportFolder
}

/// An error that a different value of `setting` would avoid.
public protocol SettingError: Error {
    var setting: Setting? { get }
}
