import Foundation
import Testing
import TestSupport
@testable import Tensors

@Suite struct RoPETests {
    /// Angles up to position * 1 rad in Float32: atol 2e-5 for positions up to ~300.
    @Test(arguments: [(1, 1, 2), (7, 3, 64), (33, 2, 10), (257, 1, 8)])
    func forwardAndBackwardMatchReference(tokens: Int, heads: Int, headDim: Int) throws {
        var rng = TestRNG(seed: UInt64(tokens * 5 + heads + headDim))
        let x = try Tensor(shape: [tokens, heads, headDim], scalars: rng.floats(tokens * heads * headDim))
        // Explicit, non-monotone position ids, as a packed tree has them.
        let positions = (0..<tokens).map { Int32(($0 * 7) % 300) }
        for theta: Float in [10_000, 1_000_000] {
            let y = try RoPE.forward(x, positions: positions, theta: theta)
            let ref = Reference.rope(x.scalars.doubles, positions: positions, heads: heads, headDim: headDim, theta: Double(theta))
            expectClose(y.scalars, ref, atol: 2e-5, rtol: 1e-5, "rope theta \(theta)")
            let dx = try RoPE.backward(x, positions: positions, theta: theta)
            let refBack = Reference.ropeBackward(x.scalars.doubles, positions: positions, heads: heads, headDim: headDim, theta: Double(theta))
            expectClose(dx.scalars, refBack, atol: 2e-5, rtol: 1e-5, "rope backward theta \(theta)")
        }
    }

    @Test func referenceBackwardMatchesFiniteDifferences() {
        var rng = TestRNG(seed: 9)
        let (heads, headDim) = (2, 6)
        let positions: [Int32] = [0, 3, 1, 17]
        let x = rng.floats(positions.count * heads * headDim).doubles, w = rng.floats(x.count).doubles
        let analytic = Reference.ropeBackward(w, positions: positions, heads: heads, headDim: headDim, theta: 10_000)
        let fd = finiteDifferenceGradient(x, weights: w) { Reference.rope($0, positions: positions, heads: heads, headDim: headDim, theta: 10_000) }
        expectClose(analytic, fd, atol: 1e-8, rtol: 1e-7, "FD rope")
    }

    @Test func rotateHalfConventionOnAKnownVector() throws {
        // headDim 4: pairs (0, 2) and (1, 3); pair 0 turns by position rad, pair 1 by position / 100.
        let x = try Tensor(shape: [1, 1, 4], scalars: [1, 0, 0, 0])
        let y = try RoPE.forward(x, positions: [2], theta: 10_000)
        expectClose(y.scalars, [cos(2.0), 0, sin(2.0), 0], atol: 1e-6, rtol: 0, "rotation of e0 by 2 rad")
    }

    @Test func badInputIsRefused() {
        #expect(throws: TensorError.self) { try RoPE.forward(Tensor(zeros: [2, 1, 3]), positions: [0, 1], theta: 10_000) }
        let e = #expect(throws: TensorError.self) { try RoPE.forward(Tensor(zeros: [2, 1, 4]), positions: [0], theta: 10_000) }
        #expect(e?.message == "expected 2 position ids for x [2, 1, 4], found 1")
        #expect(throws: TensorError.self) { try RoPE.forward(Tensor(zeros: [1, 1, 4]), positions: [-1], theta: 10_000) }
    }
}

@Suite struct ActivationTests {
    /// Float32 transcendental functions: atol 1e-6, rtol 1e-5.
    @Test(arguments: Activation.allCases)
    func forwardAndBackwardMatchReference(kind: Activation) throws {
        var rng = TestRNG(seed: 21)
        for n in oddSizes + [70_000] {
            let x = try Tensor(shape: [n], scalars: rng.floats(n, scale: 6))
            let dy = try Tensor(shape: [n], scalars: rng.floats(n))
            expectClose(kind.forward(x).scalars, x.scalars.map { Reference.activation(kind, Double($0)) }, atol: 1e-6, rtol: 1e-5, "\(kind) n=\(n)")
            let dx = try kind.backward(dy, x: x)
            let ref = (0..<n).map { Double(dy.scalars[$0]) * Reference.activationDerivative(kind, Double(x.scalars[$0])) }
            expectClose(dx.scalars, ref, atol: 1e-6, rtol: 1e-5, "\(kind) backward n=\(n)")
        }
    }

    @Test(arguments: Activation.allCases)
    func referenceDerivativeMatchesFiniteDifferences(kind: Activation) {
        let xs = stride(from: -6.0, through: 6.0, by: 0.37).map { $0 }
        let fd = xs.map { (Reference.activation(kind, $0 + 1e-5) - Reference.activation(kind, $0 - 1e-5)) / 2e-5 }
        expectClose(xs.map { Reference.activationDerivative(kind, $0) }, fd, atol: 1e-8, rtol: 1e-7, "FD \(kind)")
    }

    @Test(arguments: oddSizes)
    func swigluMatchesReference(n: Int) throws {
        var rng = TestRNG(seed: UInt64(n + 100))
        let gate = try Tensor(shape: [n], scalars: rng.floats(n, scale: 5)), up = try Tensor(shape: [n], scalars: rng.floats(n, scale: 2))
        let dOut = try Tensor(shape: [n], scalars: rng.floats(n))
        expectClose(try SwiGLU.forward(gate: gate, up: up).scalars, Reference.swiglu(gate: gate.scalars.doubles, up: up.scalars.doubles), atol: 1e-6, rtol: 1e-5, "swiglu")
        let (dg, du) = try SwiGLU.backward(dOut, gate: gate, up: up)
        let ref = Reference.swigluBackward(dOut.scalars.doubles, gate: gate.scalars.doubles, up: up.scalars.doubles)
        expectClose(dg.scalars, ref.dGate, atol: 1e-6, rtol: 1e-5, "swiglu dGate")
        expectClose(du.scalars, ref.dUp, atol: 1e-6, rtol: 1e-5, "swiglu dUp")
        let g = gate.scalars.doubles, u = up.scalars.doubles, w = dOut.scalars.doubles
        expectClose(ref.dGate, finiteDifferenceGradient(g, weights: w) { Reference.swiglu(gate: $0, up: u) }, atol: 1e-7, rtol: 1e-6, "FD swiglu gate")
        expectClose(ref.dUp, finiteDifferenceGradient(u, weights: w) { Reference.swiglu(gate: g, up: $0) }, atol: 1e-7, rtol: 1e-6, "FD swiglu up")
    }

    @Test func mismatchIsNamed() {
        #expect(throws: TensorError.self) { try SwiGLU.forward(gate: Tensor(zeros: [3]), up: Tensor(zeros: [4])) }
        #expect(throws: TensorError.self) { try Activation.silu.backward(Tensor(zeros: [3]), x: Tensor(zeros: [4])) }
    }
}
