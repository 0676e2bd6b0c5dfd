import Tensors

/// The buffers of one forward pass, allocated once from a `BufferPlan` for up to `capacity`
/// tokens (llm.c's activation struct): nothing is allocated while the model runs.
///
/// With `keepsLayers` every layer has its own buffers, so a backward pass finds each layer's
/// inputs and intermediates (norm inputs and rstd, q/k/v after RoPE, attention output and lse,
/// MLP pre-activations). Without it (inference) all layers share one set. The buffers and their
/// shapes are listed in `BufferName` and in each family's `layerBuffers`.
public final class Activations {
    /// One layer's buffers, by name; the ones every family has are properties.
    public struct Layer {
        let arena: BufferArena
        public subscript(_ name: BufferName) -> UnsafeMutablePointer<Float> { arena[name] }
        public var q: UnsafeMutablePointer<Float> { arena[.q] }
        public var k: UnsafeMutablePointer<Float> { arena[.k] }
        public var v: UnsafeMutablePointer<Float> { arena[.v] }
        public var attn: UnsafeMutablePointer<Float> { arena[.attn] }
        public var lse: UnsafeMutablePointer<Float> { arena[.lse] }
    }

    public let plan: BufferPlan
    public let capacity: Int
    public let logitCapacity: Int
    public let keepsLayers: Bool
    public let vocab: Int
    public let x: UnsafeMutablePointer<Float>
    public let finalIn: UnsafeMutablePointer<Float>
    public let finalOut: UnsafeMutablePointer<Float>
    public let finalMean: UnsafeMutablePointer<Float>
    public let finalRstd: UnsafeMutablePointer<Float>
    public let logits: UnsafeMutablePointer<Float>
    /// The sequence rows whose logits the last packed forward computed, in `logits` row order
    /// (`TransformerModel.forward(tokens:positions:mask:logitRows:activations:)`); nil: every
    /// row. Its backward reads them.
    public internal(set) var logitRows: [Int32]?
    let sharedArena: BufferArena
    private let layerSlots: [Layer]
    /// Gradient buffers of `TransformerModel.backward`, made on its first call.
    var backwardScratch: BufferArena?

    /// `capacity`: most tokens in one forward; `logitCapacity`: most rows of logits in one forward.
    public init(config c: ModelConfig, capacity: Int, logitCapacity: Int? = nil, keepsLayers: Bool = false) {
        precondition(capacity >= 1, "Activations: capacity must be at least 1, got \(capacity)")
        self.capacity = capacity
        self.logitCapacity = logitCapacity ?? capacity
        self.keepsLayers = keepsLayers
        vocab = c.vocabSize
        // The backward's buffers are planned here too (and made on first use), so `plan` is
        // everything a training forward and backward hold.
        let plan = BufferPlan(config: c, tokens: capacity, logitRows: logitCapacity ?? capacity, keepsLayers: keepsLayers,
                              backward: keepsLayers)
        self.plan = plan
        sharedArena = BufferArena(plan.shared)
        (x, finalIn, finalOut) = (sharedArena[.x], sharedArena[.finalIn], sharedArena[.finalOut])
        (finalMean, finalRstd, logits) = (sharedArena[.finalMean], sharedArena[.finalRstd], sharedArena[.logits])
        layerSlots = (0..<plan.layerSlots).map { _ in Layer(arena: BufferArena(plan.layer)) }
    }

    /// The buffers of layer `l` (shared by all layers unless `keepsLayers`).
    public func layer(_ l: Int) -> Layer { layerSlots[keepsLayers ? l : 0] }

    /// The backward pass's buffers, made on first use.
    func gradientScratch() -> BufferArena {
        if let s = backwardScratch { return s }
        let s = BufferArena(plan.gradients)
        backwardScratch = s
        return s
    }

    /// The allocations made so far and their lengths in floats: the shared buffers, each layer
    /// slot, and the gradient buffers once a backward has run (for the plan's own test).
    var allocations: [(base: UnsafeMutablePointer<Float>, floats: Int, pointers: [BufferName: UnsafeMutablePointer<Float>])] {
        ([sharedArena] + layerSlots.map(\.arena) + (backwardScratch.map { [$0] } ?? [])).map { ($0.base, $0.floats, $0.pointers) }
    }
}
