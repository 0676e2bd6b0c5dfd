import Foundation
import Testing
import TestSupport
@testable import Tensors

/// The SIMD kernels the training step uses, against the Double references (gates up to +-100,
/// so the exponential's clamp and both sigmoid branches are exercised).
@Suite struct TrainingKernelTests {
    @Test(arguments: [1, 7, 8, 9, 64, 1001])
    func swigluOverwritingBackwardMatchesReference(n: Int) throws {
        var rng = TestRNG(seed: UInt64(n + 7))
        let gate = rng.floats(n, scale: 5).enumerated().map { $0.offset % 5 == 0 ? $0.element * 20 : $0.element }
        let up = rng.floats(n, scale: 2), dOut = rng.floats(n)
        var dGate = [Float](repeating: .nan, count: n), dUp = [Float](repeating: .nan, count: n)
        SwiGLU.backwardOverwriting(dOut: dOut, gate: gate, up: up, dGate: &dGate, dUp: &dUp, count: n)
        let ref = Reference.swigluBackward(dOut.doubles, gate: gate.doubles, up: up.doubles)
        expectClose(dGate, ref.dGate, atol: 1e-6, rtol: 1e-5, "dGate n \(n)")
        expectClose(dUp, ref.dUp, atol: 1e-6, rtol: 1e-5, "dUp n \(n)")
        var out = [Float](repeating: .nan, count: n)
        SwiGLU.forward(gate: gate, up: up, out: &out, count: n)
        expectClose(out, Reference.swiglu(gate: gate.doubles, up: up.doubles), atol: 1e-6, rtol: 1e-5, "forward n \(n)")
    }

    @Test(arguments: [1, 5, 8, 4096, 4099])
    func exponentiateRowGivesSoftmaxPieces(n: Int) throws {
        var rng = TestRNG(seed: UInt64(n))
        let x = rng.floats(n, scale: 30)
        var row = x
        let r = ExponentiateRow.exponentiate(&row, count: n)
        let xd = x.doubles, m = xd.max()!
        let e = xd.map { Foundation.exp($0 - m) }
        #expect(Double(r.max) == m)
        expectClose(row, e, atol: 1e-7, rtol: 1e-6, "terms n \(n)")
        expectClose([r.sum], [e.reduce(0, +)], atol: 0, rtol: 1e-5, "sum n \(n)")
        expectClose([r.weighted], [zip(e, xd).map { $0 * ($1 - m) }.reduce(0, +)], atol: 1e-5, rtol: 1e-4, "weighted n \(n)")
    }
}
