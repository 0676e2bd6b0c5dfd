import Foundation
import Tensors

/// One step of a sampling chain: narrows or rescales the candidates (llama.cpp's samplers).
/// Processors are stateless values, so a chain is shared by every sequence and a tree branch
/// forks only its `RandomStream`.
public protocol LogitProcessor: Sendable {
    func apply(_ c: Candidates)
}

/// Divides every logit by `value` (> 0).
public struct Temperature: LogitProcessor {
    public var value: Float
    public init(_ value: Float) { self.value = value }
    public func apply(_ c: Candidates) {
        let inv = 1 / value
        for i in 0..<c.count { c.entries[i].logit *= inv }
    }
}

/// Keeps the `k` most likely tokens.
public struct TopK: LogitProcessor {
    public var k: Int
    public init(_ k: Int) { self.k = k }
    public func apply(_ c: Candidates) { if k > 0 && k < c.count { c.keepTop(k) } }
}

/// Keeps the smallest set of most likely tokens whose probability reaches `p` (nucleus); the
/// token that crosses `p` is kept, as transformers does.
public struct TopP: LogitProcessor {
    public var p: Float
    public init(_ p: Float) { self.p = p }
    public func apply(_ c: Candidates) {
        guard p < 1, c.count > 1 else { return }
        // Sums in Double: one Float running sum over a 150K vocabulary drifts by a token's share.
        let m = c.maxLogit
        var total: Double = 0
        for i in 0..<c.count { total += Double(expf(c.entries[i].logit - m)) }
        let target = Double(p) * total
        var cumulative: Double = 0
        _ = c.sortPrefix { e in
            cumulative += Double(expf(e.logit - m))
            return cumulative >= target
        }
    }
}

/// What the chain ends with: the most likely token, or a draw from the softmax of the
/// remaining candidates.
public enum Picker: Sendable {
    case greedy
    case distribution
}

/// Processors in order, then the picker. `sample` returns the token and its log-probability
/// under the distribution it was drawn from (after every processor; 0 for greedy, which is a
/// point mass).
public struct SamplerChain: Sendable {
    public var processors: [any LogitProcessor]
    public var picker: Picker

    public init(processors: [any LogitProcessor], picker: Picker) {
        self.processors = processors
        self.picker = picker
    }

    /// transformers' order: temperature, then top-k, then top-p, then the draw. Temperature 0
    /// or `greedy` picks the argmax.
    public init(temperature: Float = 1, topK: Int = 0, topP: Float = 1, greedy: Bool = false) {
        if greedy || temperature == 0 {
            self.init(processors: [], picker: .greedy)
            return
        }
        var p: [any LogitProcessor] = []
        if temperature != 1 { p.append(Temperature(temperature)) }
        if topK > 0 { p.append(TopK(topK)) }
        if topP < 1 { p.append(TopP(topP)) }
        self.init(processors: p, picker: .distribution)
    }

    public func sample(
        _ logits: UnsafePointer<Float>, vocab: Int, rng: inout RandomStream, scratch c: Candidates
    ) -> (id: Int, samplingLogprob: Float) {
        if case .greedy = picker {
            var best = 0
            for i in 1..<vocab where logits[i] > logits[best] { best = i }
            return (best, 0)
        }
        if processors.isEmpty { return Self.drawFromSoftmax(logits, vocab: vocab, rng: &rng) }
        c.load(logits, vocab: vocab)
        for p in processors { p.apply(c) }
        // The CDF walk sums in Double: a Float running sum over a large vocabulary drifts by about
        // vocab x 6e-8 of the total, a whole token's share at a few thousand tokens.
        let m = c.maxLogit
        var sum: Double = 0
        for i in 0..<c.count { sum += Double(expf(c.entries[i].logit - m)) }
        let u = Double(rng.nextUnitFloat()) * sum
        var cumulative: Double = 0
        var chosen = c.count - 1
        for i in 0..<c.count {
            cumulative += Double(expf(c.entries[i].logit - m))
            if u < cumulative { chosen = i; break }
        }
        let e = c.entries[chosen]
        return (Int(e.id), (e.logit - m) - Float(log(sum)))
    }
}

extension SamplerChain {
    /// A draw from softmax(logits) over the whole vocabulary: the chain with no processor
    /// (temperature 1, no top-k / top-p), whose distribution is the model's own. Reads the row in
    /// place instead of copying it into `Candidates`, with SIMD max and exp-sum (as
    /// `modelLogProb`, so the returned log-probability equals it bit for bit). The walk to the
    /// drawn token adds whole blocks of 8 probabilities and opens only the block that crosses u.
    static func drawFromSoftmax(_ logits: UnsafePointer<Float>, vocab: Int, rng: inout RandomStream) -> (id: Int, samplingLogprob: Float) {
        let m = VectorMath.maxSIMD(logits, vocab)
        let sum = VectorMath.sumExpShifted(logits, vocab, shift: m)
        let logSum = logf(sum)
        let u = rng.nextUnitFloat() * sum
        let shift = SIMD8<Float>(repeating: m)
        var cumulative: Float = 0
        var i = 0
        while i < vocab {
            let count = min(8, vocab - i)
            var x = SIMD8<Float>(repeating: -.infinity)
            if count == 8 {
                x = UnsafeRawPointer(logits + i).loadUnaligned(as: SIMD8<Float>.self)
            } else {
                for j in 0..<count { x[j] = logits[i + j] }
            }
            let e = VectorMath.expNonPositive(x - shift)
            let block = e.sum()
            if u < cumulative + block {
                var c = cumulative
                for j in 0..<count {
                    c += e[j]
                    if u < c { return (i + j, (logits[i + j] - m) - logSum) }
                }
            }
            cumulative += block
            i += count
        }
        // u at or past the walk's total (its rounding differs from `sum`'s): the last token with
        // a non-zero probability (`expNonPositive` is 0 below -87.3).
        var last = vocab - 1
        while last > 0 && !(logits[last] - m >= -87.3) { last -= 1 }
        return (last, (logits[last] - m) - logSum)
    }
}

/// log softmax(logits)[id] at temperature 1 over the whole vocabulary: the model's own
/// log-probability of the token, whatever the sampler did. SIMD max and exp-sum
/// (`VectorMath.expNonPositive`, about one ulp from `expf`).
public func modelLogProb(_ logits: UnsafePointer<Float>, vocab: Int, id: Int) -> Float {
    let m = VectorMath.maxSIMD(logits, vocab)
    return (logits[id] - m) - logf(VectorMath.sumExpShifted(logits, vocab, shift: m))
}
