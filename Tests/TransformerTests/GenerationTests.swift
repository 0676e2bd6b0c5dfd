import Foundation
import Testing
@testable import Sampling
@testable import ModelIO
@testable import Transformer

@Suite struct GenerationTests {
    static func decodeReference(_ fixture: String, file: String = "decode.json") throws -> (prompts: [[Int]], greedy: [[Int]]) {
        let cases = try ReferenceData.json(fixture, file)["cases"] as! [[String: Any]]
        return (cases.map { ($0["prompt"] as! [Any]).map { ($0 as! NSNumber).intValue } },
                cases.map { ($0["greedy_tokens"] as! [Any]).map { ($0 as! NSNumber).intValue } })
    }

    @Test(arguments: ForwardTests.families)
    func greedyGenerationEqualsTransformersTokenForToken(fixture: String) throws {
        let (prompts, greedy) = try Self.decodeReference(fixture)
        let generator = Generator(model: try ReferenceData.model(fixture))
        let out = try generator.generate(prompts: prompts, options: GenerationOptions(maxNewTokens: greedy[0].count))
        for (i, g) in out.enumerated() {
            #expect(g.tokens.map(\.id) == greedy[i], "\(fixture) prompt \(i); \(FixtureModels.regenerate)")
            #expect(g.finish == .length)
        }
    }

    /// `treerpo generate --greedy` on an imported with-past export equals onnxruntime's own
    /// greedy loop over the same file, token for token.
    @Test(arguments: ["llama", "qwen2", "qwen3", "gpt2"])
    func greedyGenerationEqualsOnnxruntimeGreedyLoop(family: String) throws {
        let fixture = "\(family)-optimum-with-past"
        let (prompts, greedy) = try Self.decodeReference(fixture, file: "ort_decode.json")
        let loaded = try Importer.load(Importer.Request(source: FixtureModels.folder(fixture).appendingPathComponent("model.onnx")))
        let generator = Generator(model: try TransformerModel(config: loaded.config, parameters: loaded.parameters))
        let out = try generator.generate(prompts: prompts, options: GenerationOptions(maxNewTokens: greedy[0].count))
        for (i, g) in out.enumerated() {
            #expect(g.tokens.map(\.id) == greedy[i], "\(fixture) prompt \(i) vs onnxruntime; \(FixtureModels.regenerate)")
        }
    }

    /// Sequences of different lengths decoded together give the same tokens and log-probs as
    /// each decoded alone, also when sampling (per-sequence random streams).
    @Test func batchedGenerationEqualsEachAlone() throws {
        let (prompts, _) = try Self.decodeReference("qwen2-hf")
        let generator = Generator(model: try ReferenceData.model("qwen2-hf"))
        for sampler in [SamplerChain(greedy: true), SamplerChain(temperature: 0.8, topK: 20, topP: 0.9)] {
            let options = GenerationOptions(maxNewTokens: 12, sampler: sampler, seed: 7)
            let together = try generator.generate(prompts: prompts, options: options)
            for (i, p) in prompts.enumerated() {
                let alone = try generator.generate(prompts: [p], options: options, streams: [UInt64(i)])[0]
                #expect(alone.tokens.map(\.id) == together[i].tokens.map(\.id))
                for (a, b) in zip(alone.tokens, together[i].tokens) {
                    #expect(abs(a.logprob - b.logprob) <= 1e-5 && abs(a.samplingLogprob - b.samplingLogprob) <= 1e-5)
                }
            }
        }
    }

    @Test func sameSeedSameTokensAndStopTokensEndASequence() throws {
        let generator = Generator(model: try ReferenceData.model("gpt2-hf"))
        let options = GenerationOptions(maxNewTokens: 20, sampler: SamplerChain(temperature: 1.3), seed: 42)
        let a = try generator.generate(prompts: [[5, 6, 7]], options: options)
        let b = try generator.generate(prompts: [[5, 6, 7]], options: options)
        #expect(a == b)
        var other = options
        other.seed = 43
        #expect(try generator.generate(prompts: [[5, 6, 7]], options: other) != a)
        var stopping = options
        stopping.stopTokens = [a[0].tokens[3].id]
        let stopped = try generator.generate(prompts: [[5, 6, 7]], options: stopping)[0]
        #expect(stopped.finish == .stop && stopped.tokens.count <= 4 && stopped.tokens.last?.id == a[0].tokens[3].id)
    }

    /// Log-probabilities: `logprob` is log softmax of the raw logits; greedy's sampling log-prob
    /// is 0; a sampled token's sampling log-prob is computed over the narrowed distribution.
    @Test func logProbabilitiesAreTheDocumentedOnes() throws {
        let logits: [Float] = [2, 1, 0.5, -1, 3]
        let lse = log(logits.map { exp(Double($0)) }.reduce(0, +))
        logits.withUnsafeBufferPointer { p in
            #expect(abs(Double(modelLogProb(p.baseAddress!, vocab: 5, id: 0)) - (2 - lse)) < 1e-6)
            var rng = RandomStream(seed: 1)
            let c = Candidates(vocab: 5)
            #expect(SamplerChain(greedy: true).sample(p.baseAddress!, vocab: 5, rng: &rng, scratch: c) == (4, 0))
            // top-k 2 keeps ids 4 and 0: p(4) = e^3 / (e^3 + e^2).
            var seen = Set<Int>()
            for _ in 0..<200 {
                let (id, lp) = SamplerChain(topK: 2).sample(p.baseAddress!, vocab: 5, rng: &rng, scratch: c)
                seen.insert(id)
                let expected = id == 4 ? 3 - log(exp(3.0) + exp(2.0)) : 2 - log(exp(3.0) + exp(2.0))
                #expect(abs(Double(lp) - expected) < 1e-5)
            }
            #expect(seen == [0, 4])
            // top-p 0.5: p(4) = 0.61 already reaches it, so only id 4 remains.
            for _ in 0..<20 { #expect(SamplerChain(topP: 0.5).sample(p.baseAddress!, vocab: 5, rng: &rng, scratch: c) == (4, 0)) }
        }
    }

    @Test func topKAndTopPKeepTheRightSets() {
        let logits: [Float] = (0..<50).map { Float(($0 * 37) % 50) / 10 }
        let c = Candidates(vocab: 50)
        logits.withUnsafeBufferPointer { c.load($0.baseAddress!, vocab: 50) }
        TopK(5).apply(c)
        let kept = (0..<c.count).map { c.entries[$0].logit }
        #expect(kept == [4.9, 4.8, 4.7, 4.6, 4.5])
        logits.withUnsafeBufferPointer { c.load($0.baseAddress!, vocab: 50) }
        TopP(0.3).apply(c)
        let probs = logits.map { exp(Double($0)) }, total = probs.reduce(0, +)
        let sortedProbs = probs.sorted(by: >)
        var cum = 0.0, n = 0
        while cum < 0.3 * total { cum += sortedProbs[n]; n += 1 }
        #expect(c.count == n && c.sorted)
        #expect((0..<c.count).map { Double(c.entries[$0].logit) } == logits.map(Double.init).sorted(by: >).prefix(n).map { $0 })
    }

    @Test func randomStreamsAreReproducibleAndDistinct() {
        var a = RandomStream(seed: 9, stream: 0), b = RandomStream(seed: 9, stream: 0), c = RandomStream(seed: 9, stream: 1)
        let xa = (0..<4).map { _ in a.next() }
        #expect(xa == (0..<4).map { _ in b.next() })
        #expect(xa != (0..<4).map { _ in c.next() })
        var d = RandomStream(seed: 3)
        let u = (0..<1000).map { _ in d.nextUnitFloat() }
        #expect(u.allSatisfy { $0 >= 0 && $0 < 1 } && abs(u.reduce(0, +) / 1000 - 0.5) < 0.05)
    }
}
