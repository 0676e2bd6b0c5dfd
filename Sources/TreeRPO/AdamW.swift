import Foundation
import Tensors
import Transformer

/// AdamW over one flat Float32 buffer, the same update as `torch.optim.AdamW` (single-tensor
/// path, `amsgrad=False`, `maximize=False`). With step count `t` (1 on the first step):
///
///     p <- p * (1 - lr * wd)                      decoupled decay, before the moments
///     m <- b1 * m + (1 - b1) * g
///     v <- b2 * v + (1 - b2) * g^2
///     p <- p - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
///
/// eps is added *outside* the square root and after the bias correction of `v`, as torch does
/// (not `sqrt(v_hat + eps)`). Scalars are computed in Double and applied in Float, as torch
/// applies Python floats to float32 tensors. Parameters in `noDecay` ranges (norm weights,
/// biases) skip the decay term only.
///
/// `m` and `v` are owned here, `count` scalars each, zero at the start; `step` counts updates.
/// Both are public so a checkpoint can save and restore them bit-exactly.
public final class AdamW: @unchecked Sendable {
    public struct Hyperparameters: Codable, Equatable, Sendable {
        public var beta1: Double
        public var beta2: Double
        public var eps: Double
        public var weightDecay: Double

        /// torch's defaults except the decay: 0.9, 0.999, 1e-8, 0.01.
        public init(beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8, weightDecay: Double = 0.01) {
            self.beta1 = beta1
            self.beta2 = beta2
            self.eps = eps
            self.weightDecay = weightDecay
        }
    }

    public let count: Int
    public var hyperparameters: Hyperparameters
    public internal(set) var step = 0
    public let m: UnsafeMutablePointer<Float>
    public let v: UnsafeMutablePointer<Float>
    /// Contiguous pieces of `0..<count`, each with its decay flag, in order.
    let segments: [(range: Range<Int>, decay: Bool)]

    /// `noDecay`: ranges of scalars that get no weight decay; may overlap, must lie in `0..<count`.
    public init(count: Int, hyperparameters: Hyperparameters = .init(), noDecay: [Range<Int>] = []) {
        precondition(count >= 0, "AdamW: negative count \(count)")
        for r in noDecay {
            precondition(r.lowerBound >= 0 && r.upperBound <= count, "AdamW: no-decay range \(r) outside 0..<\(count)")
        }
        self.count = count
        self.hyperparameters = hyperparameters
        m = .allocate(capacity: max(1, count))
        v = .allocate(capacity: max(1, count))
        m.initialize(repeating: 0, count: max(1, count))
        v.initialize(repeating: 0, count: max(1, count))
        segments = Self.segments(count: count, noDecay: noDecay)
    }

    deinit {
        m.deallocate()
        v.deallocate()
    }

    static func segments(count: Int, noDecay: [Range<Int>]) -> [(range: Range<Int>, decay: Bool)] {
        var merged: [Range<Int>] = []
        for r in noDecay.filter({ !$0.isEmpty }).sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = merged.last, r.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, r.upperBound)
            } else {
                merged.append(r)
            }
        }
        var out: [(Range<Int>, Bool)] = []
        var at = 0
        for r in merged {
            if r.lowerBound > at { out.append((at..<r.lowerBound, true)) }
            out.append((r, false))
            at = r.upperBound
        }
        if at < count { out.append((at..<count, true)) }
        return out
    }

    /// One update of `params` from `grads` (both `count` scalars) at learning rate `lr`.
    public func update(params: UnsafeMutablePointer<Float>, grads: UnsafePointer<Float>, lr: Double) {
        step += 1
        let h = hyperparameters
        let t = Double(step)
        let b2 = Float(h.beta2)
        let oneMinusB1 = Float(1 - h.beta1), oneMinusB2 = Float(1 - h.beta2)
        let stepSize = Float(lr / (1 - pow(h.beta1, t)))
        let bc2Sqrt = Float((1 - pow(h.beta2, t)).squareRoot())
        let eps = Float(h.eps)
        let m = m, v = v
        for segment in segments {
            let decay = segment.decay ? Float(1 - lr * h.weightDecay) : 1
            let base = segment.range.lowerBound
            Compute.parallelFor(segment.range.count, minChunk: 1 << 14) { chunk in
                for i in (base + chunk.lowerBound)..<(base + chunk.upperBound) {
                    let g = grads[i]
                    var p = params[i] * decay
                    // torch: exp_avg.lerp_(grad, 1 - beta1) == m + (1 - b1) * (g - m)
                    let mi = m[i] + oneMinusB1 * (g - m[i])
                    let vi = v[i] * b2 + oneMinusB2 * g * g
                    m[i] = mi
                    v[i] = vi
                    let denom = vi.squareRoot() / bc2Sqrt + eps
                    p -= stepSize * mi / denom
                    params[i] = p
                }
            }
        }
    }

    /// Restores the state saved from `step`, `m` and `v` (a checkpoint).
    public func load(step: Int, m mValues: [Float], v vValues: [Float]) {
        precondition(mValues.count == count && vValues.count == count,
                     "AdamW.load: expected \(count) moments, got m \(mValues.count), v \(vValues.count)")
        self.step = step
        mValues.withUnsafeBufferPointer { m.update(from: $0.baseAddress!, count: count) }
        vValues.withUnsafeBufferPointer { v.update(from: $0.baseAddress!, count: count) }
    }

    // MARK: - Parameters

    public convenience init(parameters: Parameters, hyperparameters: Hyperparameters = .init(),
                            noDecay: (ParameterSpec) -> Bool = AdamW.isNormOrBias) {
        self.init(count: parameters.count, hyperparameters: hyperparameters,
                  noDecay: parameters.entries.filter { noDecay($0.spec) }.map { $0.offset..<($0.offset + $0.spec.count) })
    }

    /// Norm weights and biases are one-dimensional; embeddings and projections are not.
    public static func isNormOrBias(_ spec: ParameterSpec) -> Bool { spec.shape.count <= 1 }

    public func update(_ parameters: Parameters, gradients: Parameters, lr: Double) {
        precondition(parameters.count == count && gradients.count == count,
                     "AdamW.update: optimiser has \(count) scalars, parameters \(parameters.count), gradients \(gradients.count)")
        update(params: parameters.base, grads: gradients.base, lr: lr)
    }
}

/// Global gradient-norm clipping, as `torch.nn.utils.clip_grad_norm_`: the L2 norm over every
/// gradient scalar; when it exceeds `maxNorm` all gradients are scaled by
/// `maxNorm / (norm + 1e-6)`. The norm is accumulated in Double (per-chunk partial sums), so it
/// does not depend on the thread count beyond rounding of the final sum.
public enum GradientClipping {
    /// `width` sets the number of partial sums (at most one per 16384 scalars), by default the
    /// thread count: a data-parallel job of R ranks of one thread passes R, so it rounds as one
    /// process of R threads does.
    public static func norm(_ grads: UnsafePointer<Float>, count: Int, width: Int = Compute.threads) -> Double {
        let chunks = max(1, min(width, count / (1 << 14)))
        var partial = [Double](repeating: 0, count: chunks)
        partial.withUnsafeMutableBufferPointer { sums in
            let sums = sums
            Compute.parallelWorkers(chunks) { c in
                var s = 0.0
                for i in Compute.chunkRange(c, of: chunks, count: count) {
                    let g = Double(grads[i])
                    s += g * g
                }
                sums[c] = s
            }
        }
        return partial.reduce(0, +).squareRoot()
    }

    /// Clips in place and returns the norm *before* clipping (what to log).
    @discardableResult
    public static func clip(_ grads: UnsafeMutablePointer<Float>, count: Int, maxNorm: Double, width: Int = Compute.threads) -> Double {
        let total = norm(grads, count: count, width: width)
        let coefficient = maxNorm / (total + 1e-6)
        if coefficient < 1 {
            let c = Float(coefficient)
            Compute.parallelFor(count, minChunk: 1 << 14) { r in
                for i in r { grads[i] *= c }
            }
        }
        return total
    }
}
