/// The gradient diagnostic cannot measure what was asked, in plain words.
public struct GradientDiagnosticError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "gradient diagnostic: \(message)" }
}
