import Foundation
import Testing
import TestSupport
@testable import TreeRPO
import ModelIO
import Transformer

/// AdamW against ten steps of `torch.optim.AdamW` recorded by tools/make_adamw_fixture.py.
@Suite struct AdamWTests {
    struct Fixture: Decodable {
        struct Case: Decodable {
            var name: String
            var lr: [Double]
            var beta1: Double
            var beta2: Double
            var eps: Double
            var weight_decay: Double
            var no_decay: [[Int]]
            var max_norm: Double?
            var initial: [Float]
            var grads: [[Float]]
            var pre_clip_norms: [Double]
            var params: [[Float]]
        }
        var torch: String
        var cases: [Case]
    }

    static let regenerate = "regenerate with: .venv-tools/bin/python tools/make_adamw_fixture.py"

    static func fixture() throws -> Fixture {
        guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)?.appendingPathComponent("adamw.json"),
              let data = try? Data(contentsOf: url) else {
            throw RewardError("Tests/TreeRPOTests/Fixtures/adamw.json", "missing AdamW fixture; \(regenerate)")
        }
        return try JSONDecoder().decode(Fixture.self, from: data)
    }

    /// Tolerance: |swift - torch| <= 1e-6 + 1e-5 * |torch| after every step. Both sides do the
    /// same float32 operations in the same order, so the observed error is a few ulps; the
    /// margin allows for the Double-accumulated clip norm and libm differences in `pow`.
    @Test(arguments: ["decay", "clip"]) func matchesTorch(_ name: String) throws {
        let fixture = try Self.fixture()
        let c = try #require(fixture.cases.first { $0.name == name }, "case \(name) not in adamw.json; \(Self.regenerate)")
        let n = c.initial.count
        let optimizer = AdamW(count: n, hyperparameters: .init(beta1: c.beta1, beta2: c.beta2, eps: c.eps, weightDecay: c.weight_decay),
                              noDecay: c.no_decay.map { $0[0]..<$0[1] })
        var params = c.initial
        var worst = 0.0
        let tolerance = Tolerance(absolute: 1e-6, relative: 1e-5)
        for step in 0..<c.lr.count {
            var grads = c.grads[step]
            if let maxNorm = c.max_norm {
                let norm = grads.withUnsafeMutableBufferPointer { GradientClipping.clip($0.baseAddress!, count: n, maxNorm: maxNorm) }
                #expect(abs(norm - c.pre_clip_norms[step]) <= 1e-5 * c.pre_clip_norms[step],
                        "\(name) step \(step + 1): pre-clip norm \(norm), torch \(c.pre_clip_norms[step]); \(Self.regenerate)")
            }
            params.withUnsafeMutableBufferPointer { p in
                grads.withUnsafeBufferPointer { g in optimizer.update(params: p.baseAddress!, grads: g.baseAddress!, lr: c.lr[step]) }
            }
            var cmp = NumericComparison(tolerance)
            cmp.add(params, c.params[step])
            if let failure = cmp.failure("\(name) step \(step + 1) parameters vs torch") {
                Issue.record("\(failure); \(Self.regenerate)")
                return
            }
            worst = max(worst, cmp.largestError)
        }
        #expect(optimizer.step == 10)
        print("AdamW \(name): worst |diff| over 10 steps = \(worst) (torch \(fixture.torch))")
    }

    @Test func segmentsCoverEverything() {
        let s = AdamW.segments(count: 20, noDecay: [5..<8, 6..<10, 15..<20, 0..<0])
        #expect(s.map(\.range) == [0..<5, 5..<10, 10..<15, 15..<20])
        #expect(s.map(\.decay) == [true, false, true, false])
        #expect(AdamW.segments(count: 4, noDecay: []).map(\.range) == [0..<4])
    }

    /// 100k scalars crosses the parallel threshold (chunks of 16k); the chunked update must
    /// equal a plain serial loop bit for bit, no-decay range included.
    @Test func chunkedEqualsSerialLoop() {
        let n = 100_000
        var rng = TestRNG(seed: 3)
        let p0 = (0..<n).map { _ in Float(Double(rng.next() >> 11) / Double(1 << 53) - 0.5) }
        let g = (0..<n).map { _ in Float(Double(rng.next() >> 11) / Double(1 << 53) - 0.5) }
        let noDecay = 20_000..<40_000
        var p = p0
        let opt = AdamW(count: n, hyperparameters: .init(weightDecay: 0.1), noDecay: [noDecay])
        var q = p0
        var m = [Float](repeating: 0, count: n), v = [Float](repeating: 0, count: n)
        for step in 1...3 {
            let lr = 1e-3 * Double(step)
            p.withUnsafeMutableBufferPointer { pp in g.withUnsafeBufferPointer { opt.update(params: pp.baseAddress!, grads: $0.baseAddress!, lr: lr) } }
            let stepSize = Float(lr / (1 - pow(0.9, Double(step))))
            let bc2 = Float((1 - pow(0.999, Double(step))).squareRoot())
            for i in 0..<n {
                let decay: Float = noDecay.contains(i) ? 1 : Float(1 - lr * 0.1)
                m[i] = m[i] + Float(1 - 0.9) * (g[i] - m[i])
                v[i] = v[i] * Float(0.999) + Float(1 - 0.999) * g[i] * g[i]
                q[i] = q[i] * decay - stepSize * m[i] / (v[i].squareRoot() / bc2 + Float(1e-8))
            }
        }
        #expect(p == q)
        #expect(Array(UnsafeBufferPointer(start: opt.m, count: n)) == m)
    }

    @Test func parametersLayoutSkipsDecayForVectors() {
        let params = Parameters(specs: [ParameterSpec("w", [4, 4]), ParameterSpec("norm", [4])])
        let grads = params.zerosLike()
        for i in 0..<params.count { params.base[i] = 1 }
        let opt = AdamW(parameters: params, hyperparameters: .init(weightDecay: 0.5))
        opt.update(params, gradients: grads, lr: 0.1)  // zero grads: only the decay moves anything
        #expect(params["w"][0] == 0.95)     // 1 * (1 - 0.1 * 0.5)
        #expect(params["norm"][0] == 1)
    }

    @Test func clippingLeavesSmallGradients() {
        var g: [Float] = [3, 4]
        let norm = g.withUnsafeMutableBufferPointer { GradientClipping.clip($0.baseAddress!, count: 2, maxNorm: 10) }
        #expect(norm == 5 && g == [3, 4])
        let clipped = g.withUnsafeMutableBufferPointer { GradientClipping.clip($0.baseAddress!, count: 2, maxNorm: 1) }
        #expect(clipped == 5)
        #expect(abs(g[0] - 0.6) < 1e-6 && abs(g[1] - 0.8) < 1e-6)
    }

    @Test func schedules() {
        let constant = LearningRateSchedule(peak: 1e-3, warmupSteps: 4)
        // warmup (k + 1) / 4: 0.25, 0.5, 0.75, 1 times peak, then peak.
        #expect([0, 1, 2, 3, 4, 100].map { constant.learningRate(step: $0) } == [0.25e-3, 0.5e-3, 0.75e-3, 1e-3, 1e-3, 1e-3])
        let cosine = LearningRateSchedule(peak: 1.0, warmupSteps: 2, shape: .cosine, totalSteps: 7, minRatio: 0.1)
        // Decay over steps 2...6 (4 intervals): progress 0, .25, .5, .75, 1;
        // lr = .1 + .9 * .5 * (1 + cos(pi * progress)) = 1, .8681981, .55, .2318019, .1.
        let want = [0.5, 1, 1, 0.86819805153395, 0.55, 0.23180194846605, 0.1, 0.1]
        for (k, w) in want.enumerated() {
            #expect(abs(cosine.learningRate(step: k) - w) < 1e-12, "cosine step \(k): \(cosine.learningRate(step: k)), expected \(w)")
        }
        #expect(LearningRateSchedule(peak: 2, shape: .cosine, totalSteps: 1).learningRate(step: 0) == 2)
    }
}
