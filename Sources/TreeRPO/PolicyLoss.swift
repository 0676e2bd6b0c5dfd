import Foundation
import Tensors

/// One token the policy loss scores: `row` is the logits row that predicts `token` (in a packed
/// tree, the token's predecessor on its path; the first token of each child is predicted by
/// its parent step's last row, so siblings share that row).
public struct LossToken: Equatable, Sendable {
    public var row: Int32
    public var token: Int32
    public var advantage: Float
    /// log pi_old(token): the policy that sampled (recomputed by the trainer's forward).
    public var oldLogProb: Float
    /// log pi_ref(token) of the frozen starting model; unused when beta is 0.
    public var refLogProb: Float
    /// The token's share of the loss: 1 / tokens for a token-mean, per-sequence shares for a
    /// sequence-mean (the caller decides).
    public var weight: Float

    public init(row: Int32, token: Int32, advantage: Float, oldLogProb: Float, refLogProb: Float = 0, weight: Float) {
        self.row = row
        self.token = token
        self.advantage = advantage
        self.oldLogProb = oldLogProb
        self.refLogProb = refLogProb
        self.weight = weight
    }
}

public struct PolicyLossSettings: Equatable, Sendable, Codable {
    /// The ratio is clipped to [1 - epsLow, 1 + epsHigh].
    public var epsLow: Float = 0.2
    public var epsHigh: Float = 0.2
    /// Weight of the k3 KL to the reference policy; 0 skips it (reference log-probs unused).
    public var beta: Float = 0

    public init(epsLow: Float = 0.2, epsHigh: Float = 0.2, beta: Float = 0) {
        self.epsLow = epsLow
        self.epsHigh = epsHigh
        self.beta = beta
    }
}

public struct PolicyLossStats: Equatable, Sendable {
    /// sum_t w_t l_t, accumulated in Double.
    public var loss: Double
    /// Mean over tokens (unweighted) of the k3 estimate exp(ref - new) - (ref - new) - 1;
    /// 0 when beta is 0 (no reference log-probs).
    public var klMean: Double
    /// Share of tokens whose clip was active: the clipped term won the min, so the token
    /// contributes no surrogate gradient (A > 0 and rho > 1 + epsHigh, or A < 0 and rho < 1 - epsLow).
    public var clipFraction: Double
    /// Mean over tokens (unweighted) of the entropy of the token's predicting distribution.
    public var entropyMean: Double
    /// Mean ratio pi_new / pi_old over tokens.
    public var ratioMean: Double
    /// log pi_new(token) per loss token, in the order given.
    public var newLogProbs: [Float]
    public var tokens: Int
}

/// The clipped policy-gradient surrogate with an optional k3 KL term, per token t:
///
///     rho_t = exp(new_t - old_t)
///     l_t   = -min(rho_t A_t, clip(rho_t, 1 - epsLow, 1 + epsHigh) A_t)
///             + beta (exp(ref_t - new_t) - (ref_t - new_t) - 1)
///     loss  = sum_t w_t l_t
///
/// with new_t = log softmax(logits[row_t])[token_t] (stable: shifted by the row maximum).
/// d loss / d new_t = w_t (-A_t rho_t [clip inactive] + beta (1 - exp(ref_t - new_t))), and
/// d new_t / d logits[row_t] = onehot(token_t) - softmax(logits[row_t]).
public enum PolicyLoss {
    /// logits `[rows, vocab]`; returns the statistics and overwrites `logits` with d loss / d
    /// logits (rows no token names become 0). Several tokens may share a row (siblings in a
    /// tree): their gradients add. Rows are processed in parallel.
    public static func lossAndGradient(
        logits: UnsafeMutablePointer<Float>, rows: Int, vocab: Int, tokens: [LossToken], settings: PolicyLossSettings
    ) -> PolicyLossStats {
        let byRow = RowIndex(tokens: tokens, rows: rows, vocab: vocab)
        let count = tokens.count
        // Per-token results, written by the worker that owns the token's row.
        var newLogProbs = [Float](repeating: 0, count: count)
        var terms = [TokenTerms](repeating: TokenTerms(), count: count)
        let epsLow = Double(settings.epsLow), epsHigh = Double(settings.epsHigh), beta = Double(settings.beta)
        tokens.withUnsafeBufferPointer { tk in
            newLogProbs.withUnsafeMutableBufferPointer { lp in
                terms.withUnsafeMutableBufferPointer { out in
                    let tk = tk, lp = lp, out = out
                    Compute.parallelFor(rows, minChunk: max(1, 16_384 / max(vocab, 1))) { range in
                        for r in range {
                            let members = byRow.tokens(ofRow: r)
                            let row = logits + r * vocab
                            if members.isEmpty {
                                row.update(repeating: 0, count: vocab)
                                continue
                            }
                            let stats = RowSoftmax.exponentiate(row, vocab: vocab, targets: members.map { Int(tk[$0].token) })
                            var coefficientSum: Float = 0
                            var coefficients: [(Int, Float)] = []
                            for (j, k) in members.enumerated() {
                                let t = tk[k]
                                let new = stats.targetLogProbs[j]
                                lp[k] = new
                                var term = TokenTerms()
                                let ratio = Foundation.exp(Double(new) - Double(t.oldLogProb))
                                let a = Double(t.advantage)
                                let clipped = Swift.min(Swift.max(ratio, 1 - epsLow), 1 + epsHigh)
                                let unclippedLoss = -ratio * a, clippedLoss = -clipped * a
                                // -min(rho A, clip A) = max(-rho A, -clip A); the clip is active when
                                // its term is strictly larger, and then rho gets no gradient.
                                term.clipActive = clippedLoss > unclippedLoss
                                var loss = term.clipActive ? clippedLoss : unclippedLoss
                                var dNew = term.clipActive ? 0 : -a * ratio
                                if beta != 0 {
                                    let d = Double(t.refLogProb) - Double(new)
                                    let e = Foundation.exp(d)
                                    term.kl = e - d - 1
                                    loss += beta * term.kl
                                    dNew += beta * (1 - e)
                                }
                                term.weightedLoss = Double(t.weight) * loss
                                term.ratio = ratio
                                term.entropy = Double(stats.entropy)
                                out[k] = term
                                let g = Float(Double(t.weight) * dNew)
                                coefficients.append((Int(t.token), g))
                                coefficientSum += g
                            }
                            // d logits = sum_k g_k onehot(token_k) - (sum_k g_k) softmax; the row
                            // holds exp(x - max) and stats.sum their total.
                            let scale = -coefficientSum / stats.sum
                            for v in 0..<vocab { row[v] *= scale }
                            for (token, g) in coefficients { row[token] += g }
                        }
                    }
                }
            }
        }
        var loss = 0.0, kl = 0.0, clipped = 0, entropy = 0.0, ratio = 0.0
        for t in terms {
            loss += t.weightedLoss
            kl += t.kl
            clipped += t.clipActive ? 1 : 0
            entropy += t.entropy
            ratio += t.ratio
        }
        let n = Double(max(count, 1))
        return PolicyLossStats(loss: loss, klMean: kl / n, clipFraction: Double(clipped) / n, entropyMean: entropy / n,
                               ratioMean: ratio / n, newLogProbs: newLogProbs, tokens: count)
    }

    /// log p(token) under softmax(logits[row]) per LossToken, logits untouched (old and
    /// reference log-probs). `logits` has at least max(row) + 1 rows of `vocab`.
    public static func logProbs(logits: UnsafePointer<Float>, vocab: Int, tokens: [LossToken]) -> [Float] {
        var out = [Float](repeating: 0, count: tokens.count)
        tokens.withUnsafeBufferPointer { tk in
            out.withUnsafeMutableBufferPointer { o in
                let tk = tk, o = o
                Compute.parallelFor(tk.count, minChunk: max(1, 16_384 / max(vocab, 1))) { range in
                    for k in range {
                        let t = tk[k]
                        precondition(t.row >= 0 && t.token >= 0 && Int(t.token) < vocab,
                                     "PolicyLoss.logProbs: token \(k) has row \(t.row), id \(t.token); expected row >= 0 and id in 0..<\(vocab)")
                        let row = logits + Int(t.row) * vocab
                        let m = VectorMath.maxSIMD(row, vocab)
                        let sum = VectorMath.sumExpShifted(row, vocab, shift: m)
                        o[k] = (row[Int(t.token)] - m) - Foundation.log(sum)
                    }
                }
            }
        }
        return out
    }

    /// What one token adds to the statistics.
    struct TokenTerms {
        var weightedLoss = 0.0, kl = 0.0, entropy = 0.0, ratio = 0.0
        var clipActive = false
    }
}

/// Loss tokens grouped by their logits row (a counting sort), so each row is visited once.
struct RowIndex: Sendable {
    /// start[r] ..< start[r + 1] indexes `order` for row r.
    let start: [Int]
    let order: [Int]

    init(tokens: [LossToken], rows: Int, vocab: Int) {
        var counts = [Int](repeating: 0, count: rows + 1)
        for (k, t) in tokens.enumerated() {
            precondition(t.row >= 0 && Int(t.row) < rows,
                         "PolicyLoss: loss token \(k) names logits row \(t.row); expected a row in 0..<\(rows)")
            precondition(t.token >= 0 && Int(t.token) < vocab,
                         "PolicyLoss: loss token \(k) has token id \(t.token); expected an id in 0..<\(vocab)")
            counts[Int(t.row) + 1] += 1
        }
        for r in 0..<rows { counts[r + 1] += counts[r] }
        var next = counts
        var order = [Int](repeating: 0, count: tokens.count)
        for (k, t) in tokens.enumerated() {
            order[next[Int(t.row)]] = k
            next[Int(t.row)] += 1
        }
        start = counts
        self.order = order
    }

    func tokens(ofRow r: Int) -> ArraySlice<Int> { order[start[r]..<start[r + 1]] }
}

/// One row's softmax pieces computed in place.
enum RowSoftmax {
    struct Result {
        /// sum_v exp(x_v - max): the row now holds the terms.
        var sum: Float
        /// -sum_v p_v log p_v
        var entropy: Float
        /// log softmax at each target, in the order given.
        var targetLogProbs: [Float]
    }

    /// Replaces row x by exp(x - max x) and returns their sum, the entropy and the targets'
    /// log-probabilities (read before the row is overwritten). With d = x - max and S = sum e^d:
    /// log p_v = d_v - log S, entropy = log S - sum_v e^d_v d_v / S.
    static func exponentiate(_ row: UnsafeMutablePointer<Float>, vocab: Int, targets: [Int]) -> Result {
        let raw = targets.map { row[$0] }
        let r = ExponentiateRow.exponentiate(row, count: vocab)
        let logSum = Foundation.log(r.sum)
        return Result(sum: r.sum, entropy: logSum - r.weighted / r.sum, targetLogProbs: raw.map { $0 - r.max - logSum })
    }
}
