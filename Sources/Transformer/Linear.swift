import Tensors

/// Linear layers as one GEMM over all rows.
enum Linear {
    /// out `[rows, outDim]` = x `[rows, inDim]` * W (+ bias), or += with `accumulate` (the
    /// residual add for free). `outIn`: W is HF Linear `[outDim, inDim]` (x W^T); otherwise a
    /// GPT-2 Conv1D `[inDim, outDim]` (x W).
    @inline(__always)
    static func forward(
        _ x: UnsafePointer<Float>, rows: Int, inDim: Int, weight: UnsafePointer<Float>, outDim: Int,
        bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>, accumulate: Bool = false, outIn: Bool = true
    ) {
        var beta: Float = accumulate ? 1 : 0
        if let bias, !accumulate {
            // Start every row at the bias, then accumulate the product onto it.
            for r in 0..<rows { (out + r * outDim).update(from: bias, count: outDim) }
            beta = 1
        }
        Gemm.compute(transposeA: false, transposeB: outIn, m: rows, n: outDim, k: inDim,
                     a: x, b: weight, beta: beta, c: out)
        if let bias, accumulate { Elementwise.biasAdd(out, bias: bias, rows: rows, cols: outDim) }
    }
}
