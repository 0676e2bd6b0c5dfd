/// The parameters of a model: canonical Hugging Face names and shapes, in a fixed order.
public struct ParameterSpec: Equatable, Sendable, Codable {
    public var name: String
    public var shape: [Int]
    public var count: Int { shape.reduce(1, *) }

    public init(_ name: String, _ shape: [Int]) {
        self.name = name
        self.shape = shape
    }
}

extension ModelConfig {
    /// Every trainable parameter of the model, with the shape Hugging Face stores it in
    /// (Linear `[out, in]`; GPT-2 Conv1D `[in, out]`). A tied output head has no entry of its
    /// own: it is the embedding.
    public var parameterSpecs: [ParameterSpec] { family.architecture.parameterSpecs(self) }

    /// Names that appear in checkpoints but are not parameters (buffers the runtime recomputes),
    /// dropped on load.
    public func isIgnoredCheckpointName(_ name: String) -> Bool { family.architecture.isIgnoredCheckpointName(name) }

    /// The name a tied output head would have; loading accepts it when it equals the embedding.
    public var tiedHeadName: String { "lm_head.weight" }

    public var embeddingName: String { family.architecture.embeddingName }

    /// A 2-D parameter Hugging Face stores `[in, out]` (GPT-2's Conv1D) rather than `[out, in]`.
    public func storesInputFirst(_ parameter: String) -> Bool { family.architecture.storesInputFirst(parameter) }
}
