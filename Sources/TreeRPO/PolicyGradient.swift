import Distributed
import Foundation
import Sampling
import Tensors
import Transformer

/// The gradient of the policy loss (docs/method.md "Loss") over packed sequences at the model's
/// current weights, accumulated into `gradients` over the micro-batches; the weights are never
/// changed here. `PolicyUpdater` steps the optimiser with it; `GradientDiagnostic` only measures it.
final class PolicyGradient {
    let model: TransformerModel
    /// The frozen starting model of the KL term; nil when beta is 0.
    let reference: TransformerModel?
    /// d loss / d parameters after `accumulate`, one Float per parameter.
    let gradients: Parameters
    /// Threads `accumulate` deals the micro-batches out to (`Compute.dataParallel`); 1 runs them
    /// one after another on multi-threaded kernels. The trainer sets `DataParallelWorkers.count`.
    var workers = 1
    /// The ranks of a data-parallel job (docs/mpi.md): with several, each computes the gradient
    /// of its share of the sequences and the shares are summed in rank order.
    var communicator: any Communicator = SingleProcess()

    /// Per worker: activations and a gradient buffer (worker 0's is `gradients`; its
    /// activations also serve the forwards without backward).
    private var workerBuffers: [WorkerBuffers]
    /// Logits for every row of a sequence, as before issue 18, instead of its loss rows only
    /// (`LossRows`); false in every real run, kept so that tests compare the two.
    var logitsForEveryRow = false

    /// The loss and its token statistics over one accumulation (kl, entropy and clip fraction are
    /// means over the loss tokens of all sequences).
    struct LossSummary {
        var loss = 0.0, kl = 0.0, entropy = 0.0, clipFraction = 0.0
    }

    init(model: TransformerModel, reference: TransformerModel?) {
        self.model = model
        self.reference = reference
        gradients = model.parameters.zerosLike()
        workerBuffers = [WorkerBuffers(gradients: gradients)]
    }

    /// Log-probabilities of the loss tokens of `sequence` under `network` (logits of the loss
    /// rows only).
    private func logProbs(_ network: TransformerModel, _ sequence: PackedSequence, _ tokens: [LossToken]) throws -> [Float] {
        let a = workerBuffers[0].activations(for: sequence.count, config: model.config)
        let rows = logitsForEveryRow ? LossRows(every: sequence.count) : LossRows(tokens.map(\.row))
        try network.forward(tokens: sequence.tokens, positions: sequence.positions, mask: try sequence.mask(),
                            logitRows: rows.rows, activations: a)
        return PolicyLoss.logProbs(logits: a.logits, vocab: model.config.vocabSize, tokens: rows.compact(tokens))
    }

    /// The loss tokens of each sequence, `[sequences][loss tokens]`, with their old
    /// log-probabilities from this model's forward at the current weights (pi_old of the
    /// importance ratio) and their reference log-probabilities (the old ones when there is no
    /// reference model). A forward of its own: the trainer reads the same numbers from its first
    /// epoch (`atCurrentWeights`); this stays as the check of that.
    func lossTokens(_ sequences: [PackedSequence]) throws -> [[LossToken]] {
        var out: [[LossToken]] = []
        for s in sequences {
            var tokens = unscoredLossTokens(s)
            let old = try logProbs(model, s, tokens)
            let ref = try reference.map { try logProbs($0, s, tokens) }
            for i in tokens.indices {
                tokens[i].oldLogProb = old[i]
                tokens[i].refLogProb = ref?[i] ?? old[i]
            }
            out.append(tokens)
        }
        return out
    }

    /// Zeroes `gradients`, then adds the forward, loss and backward of every sequence:
    /// afterwards `gradients` holds d loss / d parameters of the whole batch (each token's weight
    /// already carries its share of the aggregated loss). No sequences: a zero gradient.
    func accumulate(_ sequences: [PackedSequence], lossTokens: [[LossToken]], settings: PolicyLossSettings) throws -> LossSummary {
        try accumulate(sequences, settings: settings) { i, _, _ in lossTokens[i] }.summary
    }

    /// The gradient at the current weights, where pi_old is the current policy: every ratio is 1,
    /// no clip acts, and with beta 0 it is the plain policy gradient -sum_t w_t A_t grad log pi(t).
    /// pi_old is read from the logits of the forward that the backward uses, so it costs one
    /// forward per sequence instead of two, and the ratio is exactly 1.
    @discardableResult
    func atCurrentWeights(_ sequences: [PackedSequence], settings: PolicyLossSettings) throws -> LossSummary {
        try firstEpoch(sequences, settings: settings).summary
    }

    /// `atCurrentWeights`, which is also the first PPO epoch of an update (the weights have not
    /// moved yet), returning with it the loss tokens, `[sequences][loss tokens]`, with the old
    /// log-probabilities it read (bit-equal to `lossTokens(_:)`'s separate forward: the same
    /// forward of the same weights) for the later epochs. With a reference model its
    /// log-probabilities come from its own forward of every sequence first (it shares this
    /// object's buffers, so the two forwards cannot interleave).
    func firstEpoch(_ sequences: [PackedSequence], settings: PolicyLossSettings) throws
        -> (summary: LossSummary, lossTokens: [[LossToken]]) {
        let references = try reference.map { network in
            try sequences.map { s in try logProbs(network, s, unscoredLossTokens(s)) }
        }
        let vocab = model.config.vocabSize
        return try accumulate(sequences, settings: settings) { i, logits, rows in
            var tokens = unscoredLossTokens(sequences[i])
            let old = PolicyLoss.logProbs(logits: logits, vocab: vocab, tokens: rows.compact(tokens))
            for k in tokens.indices {
                tokens[k].oldLogProb = old[k]
                tokens[k].refLogProb = references?[i][k] ?? old[k]
            }
            return tokens
        }
    }

    /// The loss tokens of `sequence` with their old and reference log-probabilities still 0.
    private func unscoredLossTokens(_ sequence: PackedSequence) -> [LossToken] {
        sequence.lossTokens.map {
            LossToken(row: $0.row, token: $0.token, advantage: $0.advantage, oldLogProb: 0, refLogProb: 0, weight: $0.weight)
        }
    }

    /// The accumulation loop: forward of sequence i, with logits for its loss rows only
    /// (`LossRows`: the other rows' logits would get a zero gradient), its loss tokens from
    /// `lossTokens(i, logits, rows)` (the forward's compact logits, `[rows.rows.count, vocab]`,
    /// untouched until the loss overwrites them with its gradient; the tokens keep their
    /// sequence rows; called from several threads at once when `workers > 1`), the loss and the
    /// backward. Returns the summary and each sequence's loss tokens.
    ///
    /// With `workers` w > 1 and at least 2w sequences they are dealt out in turn (sequence i to
    /// worker i mod w), each worker accumulating into its own gradient buffer with its own
    /// activations; the buffers are then added in worker order and the statistics in sequence
    /// order, so a given worker count always gives the same numbers. Different counts add the
    /// same terms in a different order (differences of float rounding only).
    ///
    /// With R ranks, rank r takes sequences r, r + R, ... (dealt out to its own workers as
    /// above) and the ranks' gradients are summed in rank order: with at least 2R sequences, R
    /// ranks of one worker add exactly what one process of R workers adds (with fewer, that
    /// process runs them on one worker of R threads, whose products round otherwise).
    private func accumulate(_ sequences: [PackedSequence], settings: PolicyLossSettings,
                            lossTokens: (Int, UnsafePointer<Float>, LossRows) throws -> [LossToken]) throws
        -> (summary: LossSummary, lossTokens: [[LossToken]]) {
        let ranks = communicator.size, rank = communicator.rank
        let owned = Array(stride(from: rank, to: sequences.count, by: ranks))
        // Fewer than two sequences per worker: one at a time on all threads does better (a
        // worker left with one sequence more than another idles its core for a whole one).
        let w = owned.count >= 2 * workers ? workers : 1
        let results = WorkerSlots<(PolicyLossStats, [LossToken])?>(sequences.count, initial: nil)
        let vocab = model.config.vocabSize
        while workerBuffers.count < w { workerBuffers.append(WorkerBuffers(gradients: model.parameters.zerosLike())) }
        try Compute.dataParallel(w) { k in
            let buffers = workerBuffers[k]
            buffers.gradients.base.update(repeating: 0, count: buffers.gradients.count)
            let mine = stride(from: k, to: owned.count, by: max(1, w)).map { owned[$0] }
            // Grown once to this worker's longest sequence: growing sequence by sequence would
            // hold two sets of activations at once at every growth.
            let a = buffers.activations(for: mine.map { sequences[$0].count }.max() ?? 1, config: model.config)
            for i in mine {
                let s = sequences[i]
                let mask = try s.mask()
                let rows = logitsForEveryRow ? LossRows(every: s.count) : LossRows(s.lossTokens.map(\.row))
                try model.forward(tokens: s.tokens, positions: s.positions, mask: mask, logitRows: rows.rows, activations: a)
                let tokens = try lossTokens(i, a.logits, rows)
                let stats = PolicyLoss.lossAndGradient(logits: a.logits, rows: rows.rows.count, vocab: vocab,
                                                       tokens: rows.compact(tokens), settings: settings)
                try model.backward(tokens: s.tokens, positions: s.positions, mask: mask, activations: a, gradients: buffers.gradients)
                results[i] = (stats, tokens)
            }
        }
        for k in 1..<max(1, w) {
            VectorMath.axpy(1, workerBuffers[k].gradients.base, gradients.base, gradients.count)
        }
        var statistics: [SequenceStatistics?] = sequences.indices.map { i in
            results[i].map { SequenceStatistics(loss: $0.0.loss, kl: $0.0.klMean, clipFraction: $0.0.clipFraction,
                                                entropy: $0.0.entropyMean, tokens: $0.1.count) }
        }
        if ranks > 1 {
            // A rank without sequences adds its zeroed buffer.
            try communicator.sumInRankOrder(gradients.base, count: gradients.count)
            statistics = try Self.exchange(statistics, over: communicator)
        }
        var summary = LossSummary()
        var weightSum = 0.0
        var kept: [[LossToken]] = []
        kept.reserveCapacity(sequences.count)
        for i in sequences.indices {
            let stats = statistics[i]!
            let w = Double(stats.tokens)
            summary.loss += stats.loss
            summary.kl += stats.kl * w
            summary.entropy += stats.entropy * w
            summary.clipFraction += stats.clipFraction * w
            weightSum += w
            // Another rank's sequence: its loss tokens stay there (every epoch deals it to the same rank).
            kept.append(results[i]?.1 ?? [])
        }
        if weightSum > 0 {
            summary.kl /= weightSum
            summary.entropy /= weightSum
            summary.clipFraction /= weightSum
        }
        return (summary, kept)
    }
}

extension PolicyGradient {
    /// What the loss summary needs of one sequence: its loss, the means of its loss tokens, and
    /// how many there are.
    struct SequenceStatistics {
        var loss, kl, clipFraction, entropy: Double
        var tokens: Int
    }

    /// Each rank's per-sequence statistics (nil where another rank computed the sequence)
    /// completed from the others'. On the wire: (index, loss, kl, clip fraction, entropy,
    /// tokens) per sequence, the Doubles as their exact bits.
    static func exchange(_ statistics: [SequenceStatistics?], over communicator: any Communicator) throws -> [SequenceStatistics?] {
        var words: [UInt64] = []
        for (i, entry) in statistics.enumerated() {
            guard let s = entry else { continue }
            words += [UInt64(i), s.loss.bitPattern, s.kl.bitPattern, s.clipFraction.bitPattern, s.entropy.bitPattern, UInt64(s.tokens)]
        }
        var out = statistics
        for (rank, bytes) in try communicator.allGather(words.withUnsafeBytes { Array($0) }).enumerated() {
            guard bytes.count % 48 == 0 else { throw CommunicatorError("rank \(rank) sent \(bytes.count) bytes of loss statistics, not a multiple of 48") }
            let theirs = bytes.withUnsafeBytes { raw in (0..<(bytes.count / 8)).map { raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self) } }
            for e in stride(from: 0, to: theirs.count, by: 6) {
                let i = Int(theirs[e])
                guard i < out.count else { throw CommunicatorError("rank \(rank) sent statistics of sequence \(i) of \(out.count)") }
                out[i] = SequenceStatistics(loss: Double(bitPattern: theirs[e + 1]), kl: Double(bitPattern: theirs[e + 2]),
                                            clipFraction: Double(bitPattern: theirs[e + 3]), entropy: Double(bitPattern: theirs[e + 4]),
                                            tokens: Int(theirs[e + 5]))
            }
        }
        if let missing = out.firstIndex(where: { $0 == nil }) {
            throw CommunicatorError("no rank sent the loss statistics of sequence \(missing)")
        }
        return out
    }
}

/// One `PolicyGradient` worker's buffers: activations grown to the longest sequence it has
/// seen, and the gradient it accumulates.
private final class WorkerBuffers {
    let gradients: Parameters
    private var held: Activations?

    init(gradients: Parameters) { self.gradients = gradients }

    /// Buffers for a packed sequence of `n` tokens (grown, never shrunk; the old ones are
    /// released before the new are allocated, so a growth never holds both).
    func activations(for n: Int, config: ModelConfig) -> Activations {
        if let a = held, a.capacity >= n { return a }
        held = nil
        let a = Activations(config: config, capacity: n, logitCapacity: n, keepsLayers: true)
        held = a
        return a
    }
}
