import Transformer

/// The command line's name for each library setting. Library errors name the setting, never a
/// flag (the libraries know no command line); the message printed adds the flag.
enum CommandLineFlags {
    static func flag(for setting: Setting) -> String {
        switch setting {
        case .memoryLimit: "--max-memory"
        case .workspace: "--workspace"
        case .runName: "--run NAME, or --resume"
        case .dataSeed: "--data-seed"
        case .promptTemplate: "--prompt-template"
        case .chatTemplate: "--chat-template"
        case .benchmarkTokens: "--tokens"
        case .perQuestionCounts: "eval --json writes them"
        case .modelConfig: "--config"
        case .tokenizer: "--tokenizer"
        case .replaceModel: "--replace, or another --workspace"
        case .replaceExport: "--replace, or another --out"
        case .exportFormat: "--format safetensors"
        case .ggufType: "--gguf-type q8_0, f16 or f32"
        case .exportFolder: "--out"
        }
    }

    /// `text` (the error's message) with the flag of the setting the error names, if any.
    static func message(_ text: String, for error: Error) -> String {
        guard let setting = (error as? SettingError)?.setting else { return text }
        return "\(text) (\(flag(for: setting)))"
    }
}
