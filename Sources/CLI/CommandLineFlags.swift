import Sampling

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
        }
    }

    /// `text` (the error's message) with the flag of the setting the error names, if any.
    static func message(_ text: String, for error: Error) -> String {
        guard let setting = (error as? SettingError)?.setting else { return text }
        return "\(text) (\(flag(for: setting)))"
    }
}
