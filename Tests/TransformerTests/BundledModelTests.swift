import Foundation
import Testing
import TestSupport
import ModelFiles
import Tokenization
@testable import Sampling
@testable import ModelIO
@testable import Transformer

/// The bundled math model `models/arith-qwen2-1m/` (a torch dynamo export, the layout most users
/// bring) through our own import, forward, decoding and tokenizer, each against the reference
/// library: onnxruntime logits and its greedy loop (`Fixtures/bundled/reference.json`), Hugging Face
/// `tokenizers` ids (`Fixtures/bundled/tokenizer_golden.json`). Both files and the model come from
/// one run of `tools/make_bundled_model.py`.
@Suite struct BundledModelTests {
    static let repository = Repository.root
    static let folder = repository.appendingPathComponent("models/arith-qwen2-1m")
    static let onnx = folder.appendingPathComponent("model.onnx")
    static let fixtures = repository.appendingPathComponent("Fixtures/bundled")
    static let regenerate = "regenerate the model and its references with: python tools/make_bundled_model.py --treerpo PATH/TO/treerpo (models/arith-qwen2-1m/MODEL.md has the exact command)"

    static func json(_ name: String) throws -> [String: Any] {
        let url = fixtures.appendingPathComponent(name)
        guard let data = try? Data(contentsOf: url),
              let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw FixtureError("cannot read \(url.path); \(regenerate)")
        }
        return object
    }

    static func ints(_ value: Any?) -> [Int] { (value as? [Any] ?? []).map { ($0 as! NSNumber).intValue } }

    static func importedModel() throws -> TransformerModel {
        let loaded = try Importer.load(Importer.Request(source: onnx))
        return try TransformerModel(config: loaded.config, parameters: loaded.parameters)
    }

    /// The references were made from exactly the committed file.
    @Test func referencesBelongToTheCommittedModel() throws {
        let ref = try Self.json("reference.json")
        #expect(ref["model_sha256"] as? String == SHA256.hex(try Data(contentsOf: Self.onnx)),
                "models/arith-qwen2-1m/model.onnx is not the file reference.json was made from; \(Self.regenerate)")
    }

    /// `treerpo import models/arith-qwen2-1m/model.onnx`: the config beside the graph is used (no
    /// inference), every parameter is found, the tokenizer fits the embedding and is copied.
    @Test func importsWithItsConfigAndTokenizer() throws {
        let root = try ImportSupport.temporaryFolder("bundled")
        defer { try? FileManager.default.removeItem(at: root) }
        let workspace = Workspace(root: root.appendingPathComponent("ws"))
        let summary = try Importer.run(.init(source: Self.onnx, workspace: workspace)) {
            try Tokenizer(contentsOf: $0).vocabularySize
        }
        #expect(summary.family == .qwen2)
        #expect(summary.layers == 4 && summary.heads == 4 && summary.kvHeads == 2 && summary.hiddenSize == 128)
        #expect(summary.inferenceNotes.isEmpty, "config inferred instead of read: \(summary.inferenceNotes)")
        #expect(summary.configSource.hasSuffix("config.json"), "\(summary.configSource)")
        #expect(summary.scalars > 800_000 && summary.scalars < 1_000_000, "\(summary.scalars) parameters")
        let tokenizer = try Tokenizer(contentsOf: workspace.baseTokenizer)
        #expect(tokenizer.vocabularySize == summary.vocabSize, "tokenizer \(tokenizer.vocabularySize) ids, model \(summary.vocabSize) rows")
        #expect(try Data(contentsOf: workspace.baseTokenizer) == Data(contentsOf: Self.folder.appendingPathComponent("tokenizer.json")))
        let config = try ModelConfig(hf: HFConfig(contentsOf: workspace.base.appendingPathComponent("config.json")), file: "config.json")
        let eos = try #require(tokenizer.id(of: "<|endoftext|>"))
        #expect(config.eosTokenIds == [eos] && tokenizer.specialTokenIds.contains(eos))
        #expect(config.tiedEmbeddings)
        let map = try ImportMap.read(workspace.baseImportMap)
        #expect(map.source.sha256 == SHA256.hex(try Data(contentsOf: Self.onnx)))
        #expect(map.entries.count == summary.tensors)
    }

    /// Our forward on the imported weights gives onnxruntime's logits for every position of each
    /// prompt (max |diff| <= 1e-4 x max |logit|).
    @Test func forwardReproducesOnnxruntimeLogits() throws {
        let ref = try Self.json("reference.json")
        let model = try Self.importedModel()
        let cases = ref["cases"] as? [[String: Any]] ?? []
        #expect(cases.count >= 2, "reference.json has \(cases.count) cases; \(Self.regenerate)")
        for c in cases {
            let ids = Self.ints(c["input_ids"])
            let expected = ReferenceData.rows(c["logits_onnxruntime"])
            let (tokens, positions, mask) = try ForwardTests.packed([ids])
            let acts = Activations(config: model.config, capacity: tokens.count)
            try model.forward(tokens: tokens, positions: positions, mask: mask, activations: acts)
            #expect(expected.count == ids.count && expected.allSatisfy { $0.count == model.config.vocabSize },
                    "reference rows \(expected.count) x \(expected.first?.count ?? 0); \(Self.regenerate)")
            var cmp = LogitComparison()
            for (r, row) in expected.enumerated() { cmp.add(acts.logits + r * model.config.vocabSize, row) }
            #expect(cmp.passes, "\(cmp.comparison.failure("bundled model, \(ids.count)-token prompt vs onnxruntime") ?? ""); \(Self.regenerate)")
        }
    }

    /// Greedy decoding with our KV cache reproduces onnxruntime's greedy loop token for token, and
    /// our tokenizer decodes those tokens to the text Hugging Face `tokenizers` gave.
    @Test func greedyDecodingEqualsOnnxruntimeLoop() throws {
        let ref = try Self.json("reference.json")
        let cases = ref["greedy"] as? [[String: Any]] ?? []
        #expect(cases.count >= 3, "reference.json has \(cases.count) greedy cases; \(Self.regenerate)")
        let model = try Self.importedModel()
        let tokenizer = try Tokenizer(contentsOf: Self.folder.appendingPathComponent("tokenizer.json"))
        let eos = try #require(tokenizer.id(of: "<|endoftext|>"))
        let generator = Generator(model: model)
        let prompts = cases.map { Self.ints($0["prompt"]) }
        let out = try generator.generate(prompts: prompts, options: GenerationOptions(maxNewTokens: 64, stopTokens: [eos]))
        for (i, c) in cases.enumerated() {
            let expected = Self.ints(c["greedy_tokens"])
            let ours = out[i].tokens.map(\.id)
            let margins = (c["margins"] as? [Any] ?? []).map { ($0 as! NSNumber).doubleValue }
            let firstDiff = zip(ours, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            #expect(ours == expected, """
                greedy case \(i): ours \(ours)
                  onnxruntime \(expected)
                  first difference at step \(firstDiff.map(String.init) ?? "end"), onnxruntime top-1 margin there \(firstDiff.flatMap { $0 < margins.count ? margins[$0] : nil } ?? .nan); \(Self.regenerate)
                """)
            #expect(tokenizer.decode(ours, skipSpecialTokens: true) == c["text"] as? String, "greedy case \(i) decoded text; \(Self.regenerate)")
        }
        // The model writes the task's format: every greedy answer ends in the verifier's sentence.
        for c in cases { #expect((c["text"] as? String ?? "").contains("The answer is "), "\(c["text"] ?? "")") }
    }

    /// The bundled tokenizer gives Hugging Face `tokenizers`' ids on the training format, held-out
    /// prompts and odd text (whitespace runs, CRLF, accents, emoji, the EOS token inline).
    @Test func tokenizerEncodesLikeHuggingFace() throws {
        let golden = try Self.json("tokenizer_golden.json")
        let tokenizer = try Tokenizer(contentsOf: Self.folder.appendingPathComponent("tokenizer.json"))
        #expect(tokenizer.vocabularySize == golden["vocab_size"] as? Int, "vocabulary size; \(Self.regenerate)")
        #expect(tokenizer.id(of: "<|endoftext|>") == golden["eos_id"] as? Int)
        let cases = golden["cases"] as? [[String: Any]] ?? []
        #expect(cases.count >= 30, "tokenizer_golden.json has \(cases.count) cases; \(Self.regenerate)")
        for c in cases {
            let text = c["text"] as! String
            let plain = tokenizer.encode(text, addSpecialTokens: false)
            #expect(plain == Self.ints(c["ids"]), "encode(\(text.debugDescription), addSpecialTokens: false)\n  swift:     \(plain)\n  reference: \(Self.ints(c["ids"]))\n\(Self.regenerate)")
            let full = tokenizer.encode(text)
            #expect(full == Self.ints(c["ids_with_special"]), "encode(\(text.debugDescription))\n  swift:     \(full)\n  reference: \(Self.ints(c["ids_with_special"]))\n\(Self.regenerate)")
            #expect(tokenizer.decode(plain) == c["decoded"] as? String, "decode of \(text.debugDescription); \(Self.regenerate)")
            #expect(tokenizer.decode(plain, skipSpecialTokens: true) == c["decoded_skip_special"] as? String,
                    "decode(skipSpecialTokens: true) of \(text.debugDescription); \(Self.regenerate)")
        }
    }
}
