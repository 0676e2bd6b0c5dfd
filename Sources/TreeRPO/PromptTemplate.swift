/// Turns a question into the prompt text the model sees. The template holds `{question}` once
/// or more; everything else is copied verbatim (chat markers, an instruction, "Answer:").
public struct PromptTemplate: Equatable, Sendable, Codable {
    public static let placeholder = "{question}"

    public let text: String

    /// `source` names where the template came from (a file, a flag) for the error message.
    public init(_ text: String, source: String = "prompt template") throws {
        guard text.contains(Self.placeholder) else {
            throw DatasetError(file: source, line: nil, field: nil,
                               message: "expected the placeholder \(Self.placeholder), found none in \(text.prefix(80).debugDescription)")
        }
        self.text = text
    }

    private init(unchecked text: String) { self.text = text }

    /// The question as is.
    public static let plain = PromptTemplate(unchecked: placeholder)

    /// The prompt the bundled arithmetic model was pretrained on: question, newline, solution.
    public static let arithmetic = PromptTemplate(unchecked: "Question: {question}\nAnswer:\n")

    public func render(question: String) -> String {
        text.replacingOccurrences(of: Self.placeholder, with: question)
    }
}
