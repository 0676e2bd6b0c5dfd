import Tensors

extension Linear {
    /// Reverse of `Linear.forward`, given dOut `[rows, outDim]`:
    ///   dx `[rows, inDim]` (= dOut W for an `[outDim, inDim]` Linear, dOut W^T for a Conv1D)
    ///     overwritten, or added to with `accumulateInput` (several projections of one input);
    ///   dWeight (stored shape of W) += dOut^T x or x^T dOut;  dBias `[outDim]` += column sums.
    /// Weight and bias gradients always accumulate (micro-batches add up). Pass nil to skip one.
    static func backward(
        dOut: UnsafePointer<Float>, x: UnsafePointer<Float>, rows: Int, inDim: Int,
        weight: UnsafePointer<Float>, outDim: Int,
        dx: UnsafeMutablePointer<Float>?, accumulateInput: Bool = false,
        dWeight: UnsafeMutablePointer<Float>?, dBias: UnsafeMutablePointer<Float>?, outIn: Bool = true
    ) {
        guard rows > 0 else { return }
        if let dx {
            Gemm.compute(transposeA: false, transposeB: !outIn, m: rows, n: inDim, k: outDim,
                         a: dOut, b: weight, beta: accumulateInput ? 1 : 0, c: dx)
        }
        if let dWeight {
            if outIn {
                Gemm.compute(transposeA: true, transposeB: false, m: outDim, n: inDim, k: rows,
                             a: dOut, b: x, beta: 1, c: dWeight)
            } else {
                Gemm.compute(transposeA: true, transposeB: false, m: inDim, n: outDim, k: rows,
                             a: x, b: dOut, beta: 1, c: dWeight)
            }
        }
        if let dBias { columnSums(dOut, rows: rows, cols: outDim, into: dBias) }
    }

    /// dBias[c] += sum_r dOut[r, c], with threads splitting the columns (disjoint writes).
    static func columnSums(_ dOut: UnsafePointer<Float>, rows: Int, cols: Int, into dBias: UnsafeMutablePointer<Float>) {
        Compute.parallelFor(cols, minChunk: max(64, 65_536 / max(rows, 1))) { range in
            let width = range.count
            for r in 0..<rows {
                VectorMath.axpy(1, dOut + r * cols + range.lowerBound, dBias + range.lowerBound, width)
            }
        }
    }
}
