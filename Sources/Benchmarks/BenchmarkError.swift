import Transformer
import Sampling

/// A benchmark that could not run: a size the model cannot hold, a child that failed or could
/// not start.
public struct BenchmarkError: SettingError, CustomStringConvertible, Equatable {
    public let message: String
    /// The setting that would avoid it (the command line adds its flag).
    public let setting: Setting?
    public init(_ message: String, setting: Setting? = nil) {
        self.message = message
        self.setting = setting
    }
    public var description: String { message }
}
