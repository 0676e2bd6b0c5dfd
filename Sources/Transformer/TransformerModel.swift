import Foundation
import Tensors

/// A model of one family over its flat `Parameters`, with two entry points sharing every layer:
///
/// - `forward(tokens:positions:mask:activations:)`: one packed token sequence with explicit
///   position ids and an `AttentionMask` (causal, several sequences side by side, or a packed
///   tree), logits for every token; with `logitRows:`, logits for those rows only (a training
///   step's loss rows). This is the pass a training step differentiates; with
///   `Activations(keepsLayers: true)` it keeps what a backward pass needs.
/// - `forward(_:cache:activations:)`: a `CachedBatch` of tokens appended to `KVCache` blocks
///   (a prefill of several prompts, or one decode step of many sequences), logits for the rows
///   asked for. The linear layers are one GEMM over all rows; attention walks each row's chain
///   of cache blocks.
public final class TransformerModel {
    public let config: ModelConfig
    public let parameters: Parameters
    /// The family's decoder layers (block forward and backward, in `Families/`).
    let layers: any DecoderLayers
    /// `[vocab, h]` token embedding and output head (the embedding itself when tied).
    let embedding: UnsafeMutablePointer<Float>
    let head: UnsafeMutablePointer<Float>
    /// GPT-2 `[maxPositions, h]` learned positions.
    let positionEmbedding: UnsafeMutablePointer<Float>?
    let finalNorm: UnsafeMutablePointer<Float>
    let finalNormBias: UnsafeMutablePointer<Float>?

    /// `parameters` must have the layout of `config.parameterSpecs`.
    public init(config: ModelConfig, parameters: Parameters) throws {
        guard parameters.specs == config.parameterSpecs else {
            let want = Set(config.parameterSpecs.map(\.name)), have = Set(parameters.specs.map(\.name))
            throw ModelError("parameters do not match the config's layout: missing \(want.subtracting(have).sorted().prefix(3)), extra \(have.subtracting(want).sorted().prefix(3))")
        }
        self.config = config
        self.parameters = parameters
        let family = config.family.architecture
        layers = family.makeLayers(parameters, config: config)
        embedding = parameters[family.embeddingName]
        positionEmbedding = family.positionEmbeddingName.map { parameters[$0] }
        finalNorm = parameters[family.finalNormName]
        finalNormBias = family.finalNormBiasName.map { parameters[$0] }
        head = config.tiedEmbeddings ? embedding : parameters["lm_head.weight"]
    }

    var attentionScale: Float { 1 / Float(config.headDim).squareRoot() }

    // MARK: - Entry points

    /// Logits `[tokens, vocab]` into `activations.logits` for a packed sequence.
    public func forward(tokens: [Int32], positions: [Int32], mask: AttentionMask, activations a: Activations) throws {
        try packedForward(tokens: tokens, positions: positions, mask: mask, logitRows: nil, activations: a)
    }

    /// Logits `[logitRows.count, vocab]` into `activations.logits` for a packed sequence: row i
    /// holds the logits of sequence row `logitRows[i]` (ascending, distinct, in 0..<tokens).
    /// A training step's loss reads only the rows that predict a trained token, so the others
    /// (a prompt's rows) skip the final norm, the output head (for SmolLM2 a `[49152, 576]`
    /// product per row) and, in the caller, the log-softmax. `backward` reads these rows from
    /// `activations` and gives the other rows no gradient from the head, which is what the full
    /// computation gives them when their logits' gradient is zero.
    public func forward(tokens: [Int32], positions: [Int32], mask: AttentionMask, logitRows: [Int32],
                        activations a: Activations) throws {
        try packedForward(tokens: tokens, positions: positions, mask: mask, logitRows: logitRows, activations: a)
    }

    /// The packed forward; `logitRows` nil: logits for every row.
    private func packedForward(tokens: [Int32], positions: [Int32], mask: AttentionMask, logitRows: [Int32]?,
                               activations a: Activations) throws {
        let n = tokens.count
        guard positions.count == n, mask.count == n else {
            throw ModelError("expected \(n) position ids and a mask over \(n) tokens, found \(positions.count) and \(mask.count)")
        }
        let r = logitRows?.count ?? n
        guard n <= a.capacity, r <= a.logitCapacity else {
            throw ModelError("\(n) tokens and \(r) logit rows exceed the activations' capacity (\(a.capacity) tokens, \(a.logitCapacity) logit rows)")
        }
        if let logitRows { try Self.checkLogitRows(logitRows, tokens: n) }
        a.logitRows = logitRows
        try tokens.withUnsafeBufferPointer { t in
            try positions.withUnsafeBufferPointer { p in
                guard let t = t.baseAddress, let p = p.baseAddress else { return }
                try check(tokens: t, positions: p, count: n)
                let shape = Attention.Shape(tokens: n, qHeads: config.heads, kvHeads: config.kvHeads, headDim: config.headDim)
                runLayers(count: n, tokens: t, positions: p, activations: a) { _, L in
                    Attention.forward(q: L.q, k: L.k, v: L.v, out: L.attn, lse: L.lse, shape: shape,
                                      mask: mask, scale: attentionScale)
                }
                if let logitRows {
                    logitRows.withUnsafeBufferPointer { runHead(rows: $0.baseAddress, count: r, activations: a) }
                } else {
                    runHead(rows: nil, count: n, activations: a)
                }
            }
        }
    }

    /// Logit rows must be ascending and distinct rows of the sequence (the backward scatters
    /// their gradient back in place, last row first, which needs rows[i] >= i).
    static func checkLogitRows(_ rows: [Int32], tokens n: Int) throws {
        var previous: Int32 = -1
        for (i, row) in rows.enumerated() {
            guard row > previous, Int(row) < n else {
                throw ModelError("logit row \(row) at index \(i): expected ascending, distinct rows in 0..<\(n) (after \(previous))")
            }
            previous = row
        }
    }

    /// Logits `[batch.logitCount, vocab]` into `activations.logits`, in `batch.logitRows` order.
    /// Writes every row's K/V into its cache slot.
    public func forward(_ batch: CachedBatch, cache: KVCache, activations a: Activations) throws {
        let n = batch.count
        guard n <= a.capacity, batch.logitCount <= a.logitCapacity else {
            throw ModelError("\(n) tokens / \(batch.logitCount) logit rows exceed the activations' capacity (\(a.capacity) / \(a.logitCapacity))")
        }
        guard cache.layers == config.layers, cache.rowSize == config.kvHeads * config.headDim else {
            throw ModelError("the KV cache was made for another model shape")
        }
        a.logitRows = nil
        if n == 0 { return }
        try check(tokens: batch.tokens, positions: batch.positions, count: n)
        let kvd = cache.rowSize, scratch = cache.scratch
        runLayers(count: n, tokens: batch.tokens, positions: batch.positions, activations: a) { l, L in
            let keys = cache.keys(layer: l), values = cache.values(layer: l)
            for r in 0..<n {
                let slot = Int(batch.slots[r])
                (keys + slot * kvd).update(from: L.k + r * kvd, count: kvd)
                (values + slot * kvd).update(from: L.v + r * kvd, count: kvd)
            }
            CachedAttention.forward(q: L.q, out: L.attn, lse: L.lse, batch: batch, cache: cache, layer: l,
                                    heads: config.heads, kvHeads: config.kvHeads, headDim: config.headDim,
                                    scale: attentionScale, scores: scratch)
        }
        runHead(rows: batch.logitRows, count: batch.logitCount, activations: a)
    }

    // MARK: - Shared body

    func check(tokens: UnsafePointer<Int32>, positions: UnsafePointer<Int32>, count n: Int) throws {
        for i in 0..<n {
            guard tokens[i] >= 0 && Int(tokens[i]) < config.vocabSize else {
                throw ModelError("token id \(tokens[i]) at row \(i) is outside the vocabulary (\(config.vocabSize) ids)")
            }
            guard positions[i] >= 0 && Int(positions[i]) < config.maxPositions else {
                throw ModelError("position id \(positions[i]) at row \(i) is outside 0..<\(config.maxPositions) (max_position_embeddings)")
            }
        }
    }

    /// Embedding, then every layer; the residual stream ends in `a.x`.
    /// `attend(layer, buffers)` fills `attn` and `lse` from q, k, v.
    func runLayers(
        count n: Int, tokens: UnsafePointer<Int32>, positions: UnsafePointer<Int32>, activations a: Activations,
        afterLayer: ((Int) -> Bool)? = nil, attend: (Int, Activations.Layer) -> Void
    ) {
        let h = config.hiddenSize
        Embedding.forward(table: embedding, ids: tokens, out: a.x, tokens: n, dim: h)
        if let wpe = positionEmbedding {
            for r in 0..<n { VectorMath.axpy(1, wpe + Int(positions[r]) * h, a.x + r * h, h) }
        }
        if let afterLayer, !afterLayer(-1) { return }
        for l in 0..<config.layers {
            layers.forward(layer: l, count: n, positions: positions, activations: a, attend: attend)
            // Diagnostics only (`firstNonFiniteStage`): false stops after this layer.
            if let afterLayer, !afterLayer(l) { return }
        }
    }

    /// Final norm and output head over the chosen rows of the residual stream (all when nil).
    func runHead(rows: UnsafePointer<Int32>?, count: Int, activations a: Activations) {
        let h = config.hiddenSize
        if let rows {
            for i in 0..<count { (a.finalIn + i * h).update(from: a.x + Int(rows[i]) * h, count: h) }
        } else {
            a.finalIn.update(from: a.x, count: count * h)
        }
        if count == 0 { return }
        norm(a.finalIn, weight: finalNorm, bias: finalNormBias, out: a.finalOut, mean: a.finalMean, rstd: a.finalRstd, rows: count)
        Linear.forward(a.finalOut, rows: count, inDim: h, weight: head, outDim: config.vocabSize, bias: nil, out: a.logits)
    }

    /// The family's norm: RMSNorm (Llama/Qwen2) or LayerNorm (GPT-2, with bias).
    @inline(__always)
    func norm(
        _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>, rows: Int
    ) {
        if let bias {
            LayerNorm.forward(x: x, weight: weight, bias: bias, y: out, mean: mean, rstd: rstd,
                              rows: rows, dim: config.hiddenSize, eps: config.normEps)
        } else {
            RMSNorm.forward(x: x, weight: weight, y: out, rstd: rstd, rows: rows, dim: config.hiddenSize, eps: config.normEps)
        }
    }
}

/// A forward request the model cannot serve, saying what was expected and found.
public struct ModelError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "model: \(message)" }
}
