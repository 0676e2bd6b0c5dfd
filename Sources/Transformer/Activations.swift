import Tensors

/// The buffers of one forward pass, allocated once for up to `capacity` tokens (llm.c's
/// activation struct): nothing is allocated while the model runs.
///
/// With `keepsLayers` every layer has its own buffers, so a backward pass finds each layer's
/// inputs and intermediates (norm inputs and rstd, q/k/v after RoPE, attention output and lse,
/// MLP pre-activations). Without it (inference) all layers share one set.
/// Shapes below: n = tokens of the forward, h = hidden, qd = heads * headDim,
/// kvd = kvHeads * headDim, i = intermediate size.
public final class Activations {
    public struct Layer {
        /// `[n, h]` residual stream entering the layer (kept only with `keepsLayers`).
        public var xIn: UnsafeMutablePointer<Float>
        /// `[n, h]` first norm's output; mean1 (LayerNorm only), rstd1 `[n]`.
        public var norm1: UnsafeMutablePointer<Float>
        public var mean1: UnsafeMutablePointer<Float>
        public var rstd1: UnsafeMutablePointer<Float>
        /// `[n, 3h]` GPT-2's fused c_attn output (empty for Llama/Qwen2).
        public var qkv: UnsafeMutablePointer<Float>
        /// `[n, qd]`, `[n, kvd]`, `[n, kvd]`: q and k after RoPE.
        public var q: UnsafeMutablePointer<Float>
        public var k: UnsafeMutablePointer<Float>
        public var v: UnsafeMutablePointer<Float>
        /// `[n, qd]` attention output before the output projection; lse `[n, heads]`.
        public var attn: UnsafeMutablePointer<Float>
        public var lse: UnsafeMutablePointer<Float>
        /// `[n, h]` residual stream after attention (kept only with `keepsLayers`).
        public var xMid: UnsafeMutablePointer<Float>
        /// `[n, h]` second norm's output; mean2, rstd2 `[n]`.
        public var norm2: UnsafeMutablePointer<Float>
        public var mean2: UnsafeMutablePointer<Float>
        public var rstd2: UnsafeMutablePointer<Float>
        /// `[n, i]` MLP pre-activation: Llama's gate projection, GPT-2's c_fc output.
        public var hidden: UnsafeMutablePointer<Float>
        /// `[n, i]` Llama's up projection (empty for GPT-2).
        public var up: UnsafeMutablePointer<Float>
        /// `[n, i]` MLP activation output: silu(gate) * up, or gelu(c_fc).
        public var act: UnsafeMutablePointer<Float>
    }

    public let capacity: Int
    public let logitCapacity: Int
    public let keepsLayers: Bool
    public let vocab: Int
    /// `[n, h]` the residual stream, updated in place layer by layer.
    public let x: UnsafeMutablePointer<Float>
    /// `[n, h]` scratch for the fused-qkv split and similar.
    let scratch: UnsafeMutablePointer<Float>
    /// `[rows, h]` final norm input (the residual rows whose logits are wanted) and output;
    /// finalMean (LayerNorm only), finalRstd `[rows]`.
    public let finalIn: UnsafeMutablePointer<Float>
    public let finalOut: UnsafeMutablePointer<Float>
    public let finalMean: UnsafeMutablePointer<Float>
    public let finalRstd: UnsafeMutablePointer<Float>
    /// `[rows, vocab]` logits of the rows asked for (all tokens of a packed forward, or the
    /// chosen rows of a cached step, in the order asked).
    public let logits: UnsafeMutablePointer<Float>
    private let layerSlots: [Layer]
    /// Gradient buffers of `TransformerModel.backward`, made on its first call.
    var backwardScratch: GradientScratch?
    private var arenas: [UnsafeMutablePointer<Float>] = []

    /// `capacity`: most tokens in one forward; `logitCapacity`: most rows of logits in one forward.
    public init(config c: ModelConfig, capacity: Int, logitCapacity: Int? = nil, keepsLayers: Bool = false) {
        precondition(capacity >= 1, "Activations: capacity must be at least 1, got \(capacity)")
        self.capacity = capacity
        self.logitCapacity = logitCapacity ?? capacity
        self.keepsLayers = keepsLayers
        vocab = c.vocabSize
        let n = capacity, h = c.hiddenSize, qd = c.heads * c.headDim, kvd = c.kvHeads * c.headDim
        let i = c.intermediateSize, gpt2 = c.family == .gpt2, rows = self.logitCapacity
        var arenas: [UnsafeMutablePointer<Float>] = []
        func arena(_ sizes: [Int]) -> [UnsafeMutablePointer<Float>] {
            // 16-float alignment per buffer keeps SIMD loads on 64-byte boundaries.
            let padded = sizes.map { ($0 + 15) / 16 * 16 }
            let total = max(1, padded.reduce(0, +))
            let base = UnsafeMutablePointer<Float>.allocate(capacity: total)
            base.initialize(repeating: 0, count: total)
            arenas.append(base)
            var offset = 0
            return padded.map { size in defer { offset += size }; return base + offset }
        }
        let top = arena([n * h, n * 3 * h, rows * h, rows * h, rows, rows, rows * c.vocabSize])
        (x, scratch, finalIn, finalOut, finalMean, finalRstd, logits) = (top[0], top[1], top[2], top[3], top[4], top[5], top[6])
        var slots: [Layer] = []
        for _ in 0..<(keepsLayers ? c.layers : 1) {
            let p = arena([
                keepsLayers ? n * h : 0, n * h, gpt2 ? n : 0, n, gpt2 ? n * 3 * h : 0,
                n * qd, n * kvd, n * kvd, n * qd, n * c.heads,
                keepsLayers ? n * h : 0, n * h, gpt2 ? n : 0, n,
                n * i, gpt2 ? 0 : n * i, n * i,
            ])
            slots.append(Layer(xIn: p[0], norm1: p[1], mean1: p[2], rstd1: p[3], qkv: p[4], q: p[5], k: p[6], v: p[7],
                               attn: p[8], lse: p[9], xMid: p[10], norm2: p[11], mean2: p[12], rstd2: p[13],
                               hidden: p[14], up: p[15], act: p[16]))
        }
        layerSlots = slots
        self.arenas = arenas
    }

    deinit { arenas.forEach { $0.deallocate() } }

    /// The buffers of layer `l` (shared by all layers unless `keepsLayers`).
    public func layer(_ l: Int) -> Layer { layerSlots[keepsLayers ? l : 0] }
}
