import Sampling
import Tensors
import Transformer

/// A sampling call's decode forwards against the roofline of their batch width: a forward of r
/// rows must at least compute its matrix products (`StepFlops.forward`: r rows through the
/// layers and the head, its attention pairs) at the sgemm peak, and at least read every weight
/// once plus each attention pair's keys and values at the memory bandwidth. Its bound is the
/// larger of the two times; narrow forwards are bandwidth-bound, wide ones compute-bound.
/// Forwards are grouped by width in powers of two.
public enum DecodeRoofline {
    public struct Row: Sendable {
        /// Widths `rows.lowerBound...rows.upperBound` rows per forward.
        public var rows: ClosedRange<Int>
        public var forwards: Int
        /// Rows per second measured, and at each bound and at the roofline (the lower of the two).
        public var measured: Double, computeBound: Double, bandwidthBound: Double
        public var roofline: Double { min(computeBound, bandwidthBound) }
        public var shareOfRoofline: Double { measured / roofline }
    }

    public static func rows(_ forwards: [DecodeForward], config c: ModelConfig, peakGflops: Double, bandwidthGBps: Double) -> [Row] {
        // Weights read once per forward: the layers' matrices and the head (fp32).
        let weightBytes = 4 * (StepFlops.linearPerToken(c) / 2 + Double(c.hiddenSize) * Double(c.vocabSize))
        // K and V of one attention pair over every layer (fp32, shared by the grouped query heads).
        let pairBytes = Double(2 * c.layers * c.kvHeads * c.headDim * 4)
        var groups: [Int: [DecodeForward]] = [:]
        for f in forwards where f.rows > 0 { groups[Int.bitWidth - 1 - f.rows.leadingZeroBitCount, default: []].append(f) }
        return groups.keys.sorted().map { g in
            let fs = groups[g]!
            let rows = Double(fs.reduce(0) { $0 + $1.rows })
            let seconds = fs.reduce(0.0) { $0 + $1.seconds }
            let compute = fs.reduce(0.0) { $0 + StepFlops.forward(c, tokens: $1.rows, logitRows: $1.rows, pairs: $1.attentionPairs) } / (peakGflops * 1e9)
            let memory = fs.reduce(0.0) { $0 + weightBytes + pairBytes * Double($1.attentionPairs) } / (bandwidthGBps * 1e9)
            return Row(rows: (1 << g)...((2 << g) - 1), forwards: fs.count, measured: rows / seconds,
                       computeBound: rows / compute, bandwidthBound: rows / memory)
        }
    }
}
