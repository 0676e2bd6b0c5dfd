import Foundation

/// Log-probability of given target ids under row-wise softmax of logits, and cross-entropy.
///
/// logits `[tokens, vocab]`, targets `[tokens]` -> logp `[tokens]` with
/// logp[t] = logits[t, target[t]] - logsumexp(logits[t, :]); lse `[tokens]` is kept for backward.
/// This is the policy-gradient loss's hot path: the full softmax is never stored.
public enum TokenLogProb {
    public static func forward(
        logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>, logp: UnsafeMutablePointer<Float>,
        lse: UnsafeMutablePointer<Float>, tokens: Int, vocab: Int
    ) {
        Compute.parallelFor(tokens, minChunk: max(1, 8192 / max(vocab, 1))) { range in
            for t in range {
                let row = logits + t * vocab
                let m = VectorMath.maxSIMD(row, vocab)
                let sum = VectorMath.sumExpShifted(row, vocab, shift: m)
                // Subtracting the maximum first keeps logp exact to Float32 even for large logits
                // (logits[target] - lse would lose the low bits of both).
                logp[t] = (row[Int(targets[t])] - m) - log(sum)
                lse[t] = m + log(sum)
            }
        }
    }

    /// dLogits[t, v] += dLogp[t] * (1[v == target] - softmax(logits[t])[v])
    public static func backward(
        dLogp: UnsafePointer<Float>, logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>,
        lse: UnsafePointer<Float>, dLogits: UnsafeMutablePointer<Float>, tokens: Int, vocab: Int
    ) {
        Compute.parallelFor(tokens, minChunk: max(1, 8192 / max(vocab, 1))) { range in
            for t in range {
                let g = dLogp[t]
                if g == 0 { continue }
                let row = logits + t * vocab, drow = dLogits + t * vocab
                let l = lse[t]
                var v = 0
                let rawRow = UnsafeRawPointer(row), rawD = UnsafeMutableRawPointer(drow)
                while v + 8 <= vocab {
                    let p = VectorMath.expNonPositive(rawRow.loadUnaligned(fromByteOffset: v * 4, as: SIMD8<Float>.self) - SIMD8(repeating: l))
                    let d = rawD.loadUnaligned(fromByteOffset: v * 4, as: SIMD8<Float>.self) - g * p
                    rawD.storeBytes(of: d, toByteOffset: v * 4, as: SIMD8<Float>.self)
                    v += 8
                }
                while v < vocab {
                    drow[v] -= g * exp(row[v] - l)
                    v += 1
                }
                drow[Int(targets[t])] += g
            }
        }
    }
}

extension TokenLogProb {
    static func check(_ logits: Tensor, _ targets: [Int32], op: String) throws -> (Int, Int) {
        try Check.rank(logits, 2, "logits [tokens, vocab]", op: op)
        let (tokens, vocab) = (logits.shape[0], logits.shape[1])
        try Check.that(targets.count == tokens, op: op,
                       "expected \(tokens) target ids for logits \(logits.shape), found \(targets.count)")
        if let bad = targets.firstIndex(where: { $0 < 0 || Int($0) >= vocab }) {
            throw TensorError(op: op, "target id \(targets[bad]) at token \(bad) is outside the vocabulary of \(vocab)")
        }
        return (tokens, vocab)
    }

    /// -> (logp `[tokens]`, lse `[tokens]`)
    public static func forward(logits: Tensor, targets: [Int32]) throws -> (logp: Tensor, lse: Tensor) {
        let (tokens, vocab) = try check(logits, targets, op: "tokenLogProb")
        var logp = Tensor(zeros: [tokens]), lse = Tensor(zeros: [tokens])
        logits.withPointer { pl in targets.withUnsafeBufferPointer { pt in
            logp.withMutablePointer { pp in lse.withMutablePointer { ps in
                if let base = pt.baseAddress {
                    forward(logits: pl, targets: base, logp: pp, lse: ps, tokens: tokens, vocab: vocab)
                }
            } }
        } }
        return (logp, lse)
    }

    /// dLogits `[tokens, vocab]` given dLogp `[tokens]`.
    public static func backward(dLogp: Tensor, logits: Tensor, targets: [Int32], lse: Tensor) throws -> Tensor {
        let (tokens, vocab) = try check(logits, targets, op: "tokenLogProbBackward")
        try Check.that(dLogp.count == tokens && lse.count == tokens, op: "tokenLogProbBackward",
                       "expected dLogp and lse [\(tokens)], found \(dLogp.shape) and \(lse.shape)")
        var dLogits = Tensor(zeros: logits.shape)
        dLogp.withPointer { pd in logits.withPointer { pl in lse.withPointer { ps in
            targets.withUnsafeBufferPointer { pt in dLogits.withMutablePointer { pdl in
                if let base = pt.baseAddress {
                    backward(dLogp: pd, logits: pl, targets: base, lse: ps, dLogits: pdl, tokens: tokens, vocab: vocab)
                }
            } }
        } } }
        return dLogits
    }
}

/// Mean cross-entropy over tokens: loss = -mean_t logp[t]; built on `TokenLogProb`.
public enum CrossEntropy {
    public static func forward(logits: Tensor, targets: [Int32]) throws -> (loss: Float, lse: Tensor) {
        let (logp, lse) = try TokenLogProb.forward(logits: logits, targets: targets)
        let n = max(targets.count, 1)
        return (Float(-logp.scalars.reduce(0.0) { $0 + Double($1) } / Double(n)), lse)
    }

    /// dLogits for an upstream gradient `dLoss` of the scalar loss.
    public static func backward(dLoss: Float = 1, logits: Tensor, targets: [Int32], lse: Tensor) throws -> Tensor {
        let n = max(targets.count, 1)
        let dLogp = Tensor(shape: [targets.count], repeating: -dLoss / Float(n))
        return try TokenLogProb.backward(dLogp: dLogp, logits: logits, targets: targets, lse: lse)
    }
}
