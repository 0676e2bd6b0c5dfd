import Foundation
import ModelFiles
import Testing
import TestSupport
import Tensors
@testable import ModelIO
@testable import Transformer
@testable import TreeRPO

/// Our forward -> PolicyLoss -> backward over a packed tree against PyTorch autograd (float64)
/// on the same fixture model, tree, advantages and loss settings (`Fixtures/backward/`, written
/// by tools/make_backward_fixtures.py): llama (tied head), qwen2 (untied head, q/k/v biases,
/// asymmetric clip, KL), gpt2 (tied head, learned positions, fused qkv, KL), llama_biases (a
/// model the script makes: every optional bias, untied head, 4 query heads on 1 KV head,
/// heads x head_dim != hidden).
///
/// Gradient tolerance, element by element: |ours_i - torch_i| <= 1e-5 |torch_i| + 3e-5 max_j
/// |torch_j| (`gradientTolerance`), every value finite, the reference not all zero. Measured
/// worst: 2.7e-6 x max |torch| (llama's layer-1 norm weight), so the tensor part holds ~10x
/// headroom and every element, a small bias entry included, is held to at most 4e-5 of its
/// tensor's scale (the former per-tensor 1e-3 let a 5e-4 error through).
@Suite struct PackedTreeGradientTests {
    static let regenerate = "regenerate with: .venv-tools/bin/python tools/make_backward_fixtures.py"
    static let tolerance: Float = 1e-3
    static let gradientTolerance = Tolerance(relative: 1e-5, ofLargest: 3e-5)

    struct Fixture: Decodable {
        struct Settings: Decodable { var epsLow: Float; var epsHigh: Float; var beta: Float; var weights: String }
        struct Token: Decodable {
            var row: Int32; var token: Int32; var advantage: Float
            var oldLogProb: Float; var refLogProb: Float; var weight: Float
        }
        var modelFolder: String
        var modelSha256: String
        var tiedEmbeddings: Bool
        var tokens: [Int32]
        var parents: [Int]
        var positions: [Int32]
        var settings: Settings
        var lossTokens: [Token]
        var loss: Double
        var newLogProbs: [Double]
        var clipFraction: Double
        var klMean: Double
        var entropyMean: Double
        var gradientNames: [String]

        var lossTokenValues: [LossToken] {
            lossTokens.map { LossToken(row: $0.row, token: $0.token, advantage: $0.advantage, oldLogProb: $0.oldLogProb,
                                       refLogProb: $0.refLogProb, weight: $0.weight) }
        }
        var lossSettings: PolicyLossSettings {
            PolicyLossSettings(epsLow: settings.epsLow, epsHigh: settings.epsHigh, beta: settings.beta)
        }
    }

    static let repositoryRoot = Repository.root

    static func fixtureURL(_ file: String) throws -> URL {
        guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)?
            .appendingPathComponent("backward").appendingPathComponent(file),
              FileManager.default.fileExists(atPath: url.path) else {
            throw RewardError("Tests/TreeRPOTests/Fixtures/backward/\(file)", "missing; \(regenerate)")
        }
        return url
    }

    static func load(_ family: String) throws -> (Fixture, SafeTensorsFile, TransformerModel) {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let fixture = try decoder.decode(Fixture.self, from: Data(contentsOf: fixtureURL("\(family).json")))
        let gradients = try SafeTensorsFile(contentsOf: fixtureURL("\(family).safetensors"))
        let folder = repositoryRoot.appendingPathComponent(fixture.modelFolder)
        let (hash, _) = try SHA256.hex(file: folder.appendingPathComponent("model.safetensors"))
        guard hash == fixture.modelSha256 else {
            throw RewardError(folder.path, "model.safetensors changed since the backward fixture was made (SHA-256 \(hash), fixture \(fixture.modelSha256)); \(regenerate)")
        }
        return (fixture, gradients, try TransformerModel(folder: folder))
    }

    /// Forward over the packed tree, the policy loss (logits become d loss / d logits), backward
    /// added into `gradients`.
    static func step(_ model: TransformerModel, _ f: Fixture, activations: Activations, gradients: Parameters) throws -> PolicyLossStats {
        let mask = try AttentionMask(parents: f.parents)
        try model.forward(tokens: f.tokens, positions: f.positions, mask: mask, activations: activations)
        let stats = PolicyLoss.lossAndGradient(logits: activations.logits, rows: f.tokens.count, vocab: model.config.vocabSize,
                                               tokens: f.lossTokenValues, settings: f.lossSettings)
        try model.backward(tokens: f.tokens, positions: f.positions, mask: mask, activations: activations, gradients: gradients)
        return stats
    }

    @Test(arguments: ["llama", "qwen2", "qwen3", "gpt2", "llama_biases"])
    func lossAndEveryParameterGradientMatchTorchAutograd(family: String) throws {
        let (f, reference, model) = try Self.load(family)
        #expect(model.config.tiedEmbeddings == f.tiedEmbeddings)
        let acts = Activations(config: model.config, capacity: f.tokens.count, keepsLayers: true)
        let grads = model.parameters.zerosLike()
        let stats = try Self.step(model, f, activations: acts, gradients: grads)

        let lossError = abs(stats.loss - f.loss) / abs(f.loss)
        #expect(lossError <= Double(Self.tolerance), "\(family): loss \(stats.loss), torch \(f.loss); \(Self.regenerate)")
        expectClose(stats.newLogProbs, f.newLogProbs, Tolerance(absolute: 1e-4), "\(family): new log-probs vs torch; \(Self.regenerate)")
        #expect(stats.clipFraction == f.clipFraction, "\(family): clip fraction \(stats.clipFraction), torch \(f.clipFraction)")
        #expect(abs(stats.entropyMean - f.entropyMean) <= 1e-4 * abs(f.entropyMean),
                "\(family): entropy mean \(stats.entropyMean), torch \(f.entropyMean)")
        if f.settings.beta > 0 {
            #expect(abs(stats.klMean - f.klMean) <= 1e-3 * abs(f.klMean), "\(family): KL mean \(stats.klMean), torch \(f.klMean)")
        }

        // Every parameter of the model has a reference gradient, and nothing else does.
        #expect(Set(model.parameters.specs.map(\.name)) == Set(f.gradientNames),
                "\(family): parameter names differ from the fixture's gradient names; \(Self.regenerate)")
        // The measured worst (largest |diff| over the largest |torch|), printed so that
        // `gradientTolerance` can be kept about 10x above it.
        var worstOfLargest: (Double, String) = (0, "")
        for spec in grads.specs {
            let want = try reference.floats(spec.name)
            let ours = UnsafeBufferPointer(start: grads[spec.name], count: spec.count)
            var cmp = NumericComparison(Self.gradientTolerance)
            cmp.add(ours, want)
            cmp.expectPasses("\(family) gradient of \(spec.name) vs torch; \(Self.regenerate)")
            if cmp.relativeError > worstOfLargest.0 { worstOfLargest = (cmp.relativeError, spec.name) }
        }
        print("\(family): loss relative error \(lossError), worst gradient |diff| / max|torch| \(worstOfLargest.0) (\(worstOfLargest.1)) over \(grads.specs.count) tensors")
    }

    /// Two backward passes into one gradient buffer give twice one pass (gradients add, never
    /// overwrite, so micro-batches accumulate).
    @Test(arguments: ["qwen2", "gpt2"])
    func backwardAccumulatesIntoGradients(family: String) throws {
        let (f, _, model) = try Self.load(family)
        let acts = Activations(config: model.config, capacity: f.tokens.count, keepsLayers: true)
        let once = model.parameters.zerosLike(), twice = model.parameters.zerosLike()
        _ = try Self.step(model, f, activations: acts, gradients: once)
        _ = try Self.step(model, f, activations: acts, gradients: twice)
        _ = try Self.step(model, f, activations: acts, gradients: twice)
        let doubled = UnsafeBufferPointer(start: once.base, count: once.count).map { 2 * $0 }
        expectClose(UnsafeBufferPointer(start: twice.base, count: twice.count), doubled, .ofLargest(1e-5),
                    "\(family): two accumulated passes vs twice one pass")
    }

    @Test func backwardRefusesActivationsWithoutLayers() throws {
        let (f, _, model) = try Self.load("llama")
        let acts = Activations(config: model.config, capacity: f.tokens.count, keepsLayers: false)
        let mask = try AttentionMask(parents: f.parents)
        try model.forward(tokens: f.tokens, positions: f.positions, mask: mask, activations: acts)
        #expect(throws: ModelError.self) {
            try model.backward(tokens: f.tokens, positions: f.positions, mask: mask, activations: acts,
                               gradients: model.parameters.zerosLike())
        }
    }
}
