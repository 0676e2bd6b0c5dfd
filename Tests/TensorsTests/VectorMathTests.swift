import Foundation
import Testing
import TestSupport
@testable import Tensors

@Suite struct VectorMathTests {
    /// The SIMD exponential against the C library's, in relative error, over its whole domain.
    @Test func expNonPositiveMatchesFoundation() {
        var cmp = NumericComparison(.elementwise(relative: 3e-7))
        var x: Float = -87
        while x <= 0 {
            let lanes = SIMD8<Float>((0..<8).map { x + Float($0) * 0.0013 }.map { min($0, 0) })
            let e = VectorMath.expNonPositive(lanes)
            for i in 0..<8 { cmp.add(Double(e[i]), exp(Double(lanes[i]))) }
            x += 0.0173
        }
        cmp.expectPasses("expNonPositive vs Foundation exp")
        let edge = VectorMath.expNonPositive(SIMD8(-.infinity, -1000, -87.31, -87.29, 0, -0.0, -1e-30, -1))
        #expect(edge[0] == 0 && edge[1] == 0 && edge[2] == 0 && edge[3] > 0 && edge[4] == 1 && edge[5] == 1 && edge[6] == 1)
        #expect(abs(Double(edge[7]) - exp(-1.0)) < 1e-7)
    }
}
