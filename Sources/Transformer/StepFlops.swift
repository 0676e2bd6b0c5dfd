
/// Floating-point operations of a model's matrix products, counted from the shapes at 2 per
/// multiply-add: the linear maps of every layer, the logits rows of the head, and attention's
/// scores and weighted values for every visible (query, key) pair. Norms, activations, softmax,
/// the loss and AdamW are left out (linear in the hidden size, a few percent of these models'
/// work), so a rate over these counts is a slight underestimate of the work done.
public enum StepFlops {
    /// One token through every layer's weight matrices: 2 x their entries (the 2-D parameters
    /// other than the token and position embeddings and an untied head).
    public static func linearPerToken(_ c: ModelConfig) -> Double {
        let architecture = c.family.architecture
        let outside: Set<String> = [architecture.embeddingName, architecture.positionEmbeddingName ?? "", "lm_head.weight"]
        let entries = c.parameterSpecs.filter { $0.shape.count == 2 && !outside.contains($0.name) }.reduce(0) { $0 + $1.count }
        return 2 * Double(entries)
    }

    /// One row of logits: `[hidden] x [hidden, vocab]`.
    public static func headPerRow(_ c: ModelConfig) -> Double { 2 * Double(c.hiddenSize) * Double(c.vocabSize) }

    /// One visible (query, key) pair over every layer and query head: a score (headDim
    /// multiply-adds) and its share of the weighted values (headDim more).
    public static func attentionPerPair(_ c: ModelConfig) -> Double { 4 * Double(c.heads * c.headDim * c.layers) }

    /// A forward of `tokens` rows, `logitRows` of them with logits, `pairs` visible pairs.
    public static func forward(_ c: ModelConfig, tokens: Int, logitRows: Int, pairs: Int) -> Double {
        linearPerToken(c) * Double(tokens) + headPerRow(c) * Double(logitRows) + attentionPerPair(c) * Double(pairs)
    }

    /// Forward and backward: the backward takes an input and a weight gradient of every product
    /// (attention's backward counted the same way, twice its forward), so 3 x the forward.
    public static func training(_ c: ModelConfig, tokens: Int, logitRows: Int, pairs: Int) -> Double {
        3 * forward(c, tokens: tokens, logitRows: logitRows, pairs: pairs)
    }
}
