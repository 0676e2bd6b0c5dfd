import Tensors

extension RopeTable {
    /// The backward of `apply`: rotates x `[rows, heads, 2 * half]` in place by minus each
    /// token's angles. With S negating the second half of every head vector,
    /// R(-a) = S R(a) S (negation is exact), so the inverse reuses the forward's tables.
    func applyInverse(_ x: UnsafeMutablePointer<Float>, positions: UnsafePointer<Int32>, rows: Int, heads: Int) {
        negateSecondHalves(x, count: rows * heads)
        apply(x, positions: positions, rows: rows, heads: heads)
        negateSecondHalves(x, count: rows * heads)
    }

    /// Negates elements half..<2 half of each of `count` consecutive head vectors.
    private func negateSecondHalves(_ x: UnsafeMutablePointer<Float>, count: Int) {
        let half = self.half
        Compute.parallelFor(count, minChunk: 256) { range in
            for v in range {
                let second = x + v * 2 * half + half
                for i in 0..<half { second[i] = -second[i] }
            }
        }
    }
}
