import Benchmarks
import Sampling
import Transformer
import Testing

/// The FLOP counts behind `bench train`'s share of the sgemm peak and `bench sample`'s roofline,
/// worked by hand for the built-in tiny Qwen2 shape: vocab 4096, hidden 128, MLP 512, 5 layers,
/// 4 query heads and 2 KV heads of 32 dims, tied head.
@Suite struct StepFlopsTests {
    @Test func tinyShapeCountsByHand() throws {
        let c = try TrainBenchmark.tinyConfig()
        // Per layer: q 128x128, k and v 64x128, o 128x128, gate and up 512x128, down 128x512.
        let perLayer = 16_384 + 8_192 + 8_192 + 16_384 + 3 * 65_536
        #expect(StepFlops.linearPerToken(c) == 2 * Double(5 * perLayer))
        #expect(StepFlops.headPerRow(c) == 2 * 128 * 4096)
        #expect(StepFlops.attentionPerPair(c) == 4 * 4 * 32 * 5)
        // The layers' matrices, the tied embedding and the 1-D norms and biases make every parameter.
        let oneD = c.parameterSpecs.filter { $0.shape.count == 1 }.reduce(0) { $0 + $1.count }
        #expect(5 * perLayer + 4096 * 128 + oneD == c.parameterSpecs.reduce(0) { $0 + $1.count })
        // 3 tokens, 2 logit rows, 6 causal pairs; training is forward + twice the forward.
        let forward = 3 * 2.0 * Double(5 * perLayer) + 2 * 2.0 * 128 * 4096 + 6 * 2560.0
        #expect(StepFlops.forward(c, tokens: 3, logitRows: 2, pairs: 6) == forward)
        #expect(StepFlops.training(c, tokens: 3, logitRows: 2, pairs: 6) == 3 * forward)
    }

    /// One 1-row forward (10 pairs) and two 3-row forwards (30 pairs each), at 100 GFLOP/s and
    /// 10 GB/s: the 1-row group is bandwidth-bound, and its share is measured over the bound.
    @Test func rooflineGroupsByWidthAndTakesTheSlowerBound() throws {
        let c = try TrainBenchmark.tinyConfig()
        let forwards = [DecodeForward(rows: 1, attentionPairs: 10, seconds: 0.004),
                        DecodeForward(rows: 3, attentionPairs: 30, seconds: 0.002),
                        DecodeForward(rows: 2, attentionPairs: 30, seconds: 0.002)]
        let rows = DecodeRoofline.rows(forwards, config: c, peakGflops: 100, bandwidthGBps: 10)
        #expect(rows.map(\.rows) == [1...1, 2...3] && rows.map(\.forwards) == [1, 2])
        let weights = 4.0 * Double(5 * (16_384 + 2 * 8_192 + 16_384 + 3 * 65_536) + 4096 * 128)
        let pair = 4.0 * 2 * 5 * 2 * 32
        let memory = (weights + 10 * pair) / 10e9
        let compute = StepFlops.forward(c, tokens: 1, logitRows: 1, pairs: 10) / 100e9
        #expect(memory > compute)
        #expect(abs(rows[0].bandwidthBound - 1 / memory) < 1e-9 * (1 / memory))
        #expect(abs(rows[0].computeBound - 1 / compute) < 1e-9 * (1 / compute))
        #expect(abs(rows[0].measured - 250) < 1e-9 && abs(rows[0].shareOfRoofline - 250 * memory) < 1e-12)
        #expect(abs(rows[1].measured - 5 / 0.004) < 1e-9)
    }
}
