import Tensors

/// The name of one activation or gradient buffer. The buffers every family has are declared
/// here; a family with buffers of its own declares them in its own file (Qwen3's `qRaw`).
public struct BufferName: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    // Once per forward (n tokens, r logit rows, h hidden, V vocabulary).
    /// `[n, h]` the residual stream, updated in place layer by layer.
    public static let x = BufferName("x")
    /// `[r, h]` final norm input (the residual rows whose logits are wanted) and output.
    public static let finalIn = BufferName("finalIn"), finalOut = BufferName("finalOut")
    /// `[r]` the final norm's mean (LayerNorm only) and reciprocal standard deviation.
    public static let finalMean = BufferName("finalMean"), finalRstd = BufferName("finalRstd")
    /// `[r, V]` logits.
    public static let logits = BufferName("logits")

    // Per layer (qd = heads x headDim, kvd = kvHeads x headDim).
    /// `[n, h]` residual stream entering the layer and after attention (kept for backward only).
    public static let xIn = BufferName("xIn"), xMid = BufferName("xMid")
    /// `[n, h]` the two norms' outputs; `[n]` their rstd (and mean for LayerNorm).
    public static let norm1 = BufferName("norm1"), rstd1 = BufferName("rstd1"), mean1 = BufferName("mean1")
    public static let norm2 = BufferName("norm2"), rstd2 = BufferName("rstd2"), mean2 = BufferName("mean2")
    /// `[n, qd]`, `[n, kvd]`, `[n, kvd]`: what attention reads (q and k after RoPE).
    public static let q = BufferName("q"), k = BufferName("k"), v = BufferName("v")
    /// `[n, qd]` attention output before the output projection; `[n, heads]` its log-sum-exp.
    public static let attn = BufferName("attn"), lse = BufferName("lse")
    /// `[n, i]` MLP pre-activation (gate or c_fc), Llama's up projection, the activation output.
    public static let hidden = BufferName("hidden"), up = BufferName("up"), act = BufferName("act")

    // Backward.
    /// `[n, h]` d loss / d residual stream; gradient at a norm's output.
    public static let dx = BufferName("dx"), dNorm = BufferName("dNorm")
    /// `[n, qd]` gradient at the attention output; at q, k, v (`[n, qd]`, `[n, kvd]` x 2).
    public static let dAttn = BufferName("dAttn"), dq = BufferName("dq"), dk = BufferName("dk"), dv = BufferName("dv")
    /// `[n, i]` gradients at the MLP activation output, its pre-activation, Llama's up.
    public static let dAct = BufferName("dAct"), dHidden = BufferName("dHidden"), dUp = BufferName("dUp")
}

/// Every buffer of one forward (and, for training, its backward) for a configuration and a token
/// count, with its size in floats: the one description that `Activations` and the backward's
/// `GradientScratch` allocate from, and that the sampler's memory plan and `bench train` count.
/// Each buffer is rounded up to 16 floats so every one starts on a 64-byte boundary.
public struct BufferPlan: Equatable, Sendable {
    public struct Buffer: Equatable, Sendable {
        public let name: BufferName
        /// Floats the buffer holds, before rounding.
        public let floats: Int
        public init(_ name: BufferName, _ floats: Int) { self.name = name; self.floats = floats }
        public var paddedFloats: Int { BufferPlan.padded(floats) }
    }

    /// Buffers of the whole forward (residual stream, final norm, logits).
    public let shared: [Buffer]
    /// Buffers of one layer; `layerSlots` copies (every layer with `keepsLayers`, else one shared).
    public let layer: [Buffer]
    public let layerSlots: Int
    /// Buffers of the backward pass (empty for inference).
    public let gradients: [Buffer]

    /// `tokens`: most rows of one forward; `logitRows`: most rows of logits; `keepsLayers`: every
    /// layer keeps its intermediates for a backward; `backward`: include the gradient buffers.
    public init(config c: ModelConfig, tokens n: Int, logitRows r: Int, keepsLayers: Bool, backward: Bool) {
        let h = c.hiddenSize
        shared = [Buffer(.x, mul(n, h)), Buffer(.finalIn, mul(r, h)), Buffer(.finalOut, mul(r, h)),
                  Buffer(.finalMean, c.family.architecture.normHasMean ? r : 0), Buffer(.finalRstd, r),
                  Buffer(.logits, mul(r, c.vocabSize))]
        layer = c.family.architecture.layerBuffers(c, tokens: n, keepsLayers: keepsLayers)
        layerSlots = keepsLayers ? c.layers : 1
        gradients = backward ? c.family.architecture.gradientBuffers(c, tokens: n) : []
    }

    public static func padded(_ floats: Int) -> Int { add(floats, 15) / 16 * 16 }

    static func total(_ buffers: [Buffer]) -> Int { buffers.reduce(0) { add($0, $1.paddedFloats) } }

    /// Floats of the forward's buffers (all layer slots).
    public var activationFloats: Int { add(Self.total(shared), mul(layerSlots, Self.total(layer))) }
    public var gradientFloats: Int { Self.total(gradients) }
    /// Bytes of everything in the plan (saturating: a plan for an absurd request reads Int.max).
    public var bytes: Int { mul(add(activationFloats, gradientFloats), MemoryLayout<Float>.size) }
}

/// Saturating products and sums: a memory plan for an absurd request must read "too large", not
/// wrap around to a small number.
@inline(__always) public func saturatingMultiply(_ a: Int, _ b: Int) -> Int {
    let (p, overflow) = a.multipliedReportingOverflow(by: b)
    return overflow ? Int.max : p
}

@inline(__always) public func saturatingAdd(_ a: Int, _ b: Int) -> Int {
    let (s, overflow) = a.addingReportingOverflow(b)
    return overflow ? Int.max : s
}

@inline(__always) func mul(_ a: Int, _ b: Int) -> Int { saturatingMultiply(a, b) }
@inline(__always) func add(_ a: Int, _ b: Int) -> Int { saturatingAdd(a, b) }

/// A set of named buffers carved out of one allocation, laid out as `buffers` lists them.
public final class BufferArena {
    private(set) var pointers: [BufferName: UnsafeMutablePointer<Float>] = [:]
    /// The allocation, `floats` long (zero-filled).
    let base: UnsafeMutablePointer<Float>
    let floats: Int

    init(_ buffers: [BufferPlan.Buffer]) {
        floats = max(1, BufferPlan.total(buffers))
        base = .allocate(capacity: floats)
        base.initialize(repeating: 0, count: floats)
        var offset = 0
        for b in buffers {
            pointers[b.name] = base + offset
            offset += b.paddedFloats
        }
    }

    deinit { base.deallocate() }

    /// A buffer the plan holds; a name the family did not plan is a programming error.
    public subscript(_ name: BufferName) -> UnsafeMutablePointer<Float> {
        guard let p = pointers[name] else { preconditionFailure("no buffer '\(name)' in this plan") }
        return p
    }
}
