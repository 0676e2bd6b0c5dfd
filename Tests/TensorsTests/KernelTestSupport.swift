import Foundation
import Tensors

extension Array where Element == Float {
    var doubles: [Double] { map(Double.init) }
}

/// Gradient of L(x) = sum_i w[i] * f(x)[i] by central differences in double precision.
func finiteDifferenceGradient(_ x: [Double], weights w: [Double], step h: Double = 1e-5, _ f: ([Double]) -> [Double]) -> [Double] {
    var grad = [Double](repeating: 0, count: x.count)
    var xp = x
    for i in x.indices {
        xp[i] = x[i] + h
        let plus = zip(f(xp), w).map(*).reduce(0, +)
        xp[i] = x[i] - h
        let minus = zip(f(xp), w).map(*).reduce(0, +)
        xp[i] = x[i]
        grad[i] = (plus - minus) / (2 * h)
    }
    return grad
}

/// The shapes every kernel is tried on: degenerate, odd, just past a power of two.
let oddSizes = [1, 7, 33, 257]

