import Foundation
import Tensors

/// Rotary embedding with precomputed cos/sin `[positions, headDim / 2]`, HF rotate-half
/// convention (see Tensors' `RoPE`, whose angles these are: Float32 position * Float32
/// frequency, cos/sin in Double rounded to Float32). A table lookup instead of a cos/sin per
/// token and no allocation per call.
final class RopeTable {
    let positions: Int, half: Int
    private let cosines: UnsafeMutablePointer<Float>
    private let sines: UnsafeMutablePointer<Float>

    init(headDim: Int, theta: Float, positions: Int) {
        self.positions = positions
        half = headDim / 2
        cosines = .allocate(capacity: max(1, positions * half))
        sines = .allocate(capacity: max(1, positions * half))
        let freq = RoPE.inverseFrequencies(headDim: headDim, theta: theta)
        for p in 0..<positions {
            for i in 0..<half {
                let angle = Double(Float(p) * freq[i])
                cosines[p * half + i] = Float(cos(angle))
                sines[p * half + i] = Float(sin(angle))
            }
        }
    }

    deinit {
        cosines.deallocate()
        sines.deallocate()
    }

    /// Rotates x `[rows, heads, 2 * half]` in place; positions `[rows]`, each < `positions`.
    func apply(_ x: UnsafeMutablePointer<Float>, positions pos: UnsafePointer<Int32>, rows: Int, heads: Int) {
        let half = self.half, headDim = 2 * half
        Compute.parallelFor(rows, minChunk: 16) { range in
            for r in range {
                let c = cosines + Int(pos[r]) * half, s = sines + Int(pos[r]) * half
                for h in 0..<heads {
                    let v = x + (r * heads + h) * headDim
                    for i in 0..<half {
                        let a = v[i], b = v[i + half]
                        v[i] = a * c[i] - b * s[i]
                        v[i + half] = b * c[i] + a * s[i]
                    }
                }
            }
        }
    }
}
