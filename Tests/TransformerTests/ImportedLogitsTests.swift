import Foundation
import Testing
import TestSupport
import Tensors
@testable import ModelIO
@testable import Transformer

/// Each ONNX fixture, imported by us and run by our forward, gives the logits onnxruntime gave
/// for the same file (`logits_onnxruntime` in its reference.json): the full chain from an
/// exporter's graph to our numbers, per family and exporter style.
@Suite struct ImportedLogitsTests {
    static let onnxFixtures: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: FixtureModels.root.path)) ?? []
        return names.filter { FileManager.default.fileExists(atPath: FixtureModels.folder($0).appendingPathComponent("model.onnx").path) }.sorted()
    }()

    @Test func everyExporterStyleIsCovered() {
        // 33 fixtures: 4 families x 7 styles, llama_equalnorms x 4, qwen2 fp16 (see MANIFEST.json).
        #expect(Self.onnxFixtures.count == 33, "found \(Self.onnxFixtures); \(FixtureModels.regenerate)")
    }

    @Test(arguments: onnxFixtures)
    func importedModelReproducesOnnxruntimeLogits(fixture: String) throws {
        let ref = try ReferenceData.json(fixture, "reference.json")
        let loaded = try Importer.load(Importer.Request(source: FixtureModels.folder(fixture).appendingPathComponent("model.onnx")))
        let model = try TransformerModel(config: loaded.config, parameters: loaded.parameters)
        // The unpadded inputs: the 2x8 batch and the 1x5 case.
        var cases: [(String, [[Int]], [[Float]])] = [
            ("2x8 batch", ReferenceData.ints((ref["inputs"] as! [String: Any])["input_ids"]), ReferenceData.rows(ref["logits_onnxruntime"])),
        ]
        for extra in ref["extra_cases"] as! [[String: Any]] where extra["name"] as? String == "short" {
            cases.append(("1x5", ReferenceData.ints(extra["input_ids"]), ReferenceData.rows(extra["logits_onnxruntime"])))
        }
        // An fp16 graph computes in fp16: its logits are only as close as the fixture script's
        // own fp16 tolerance allows (it recorded onnxruntime vs PyTorch within it).
        let halfTolerance = (ref["style"] as? String ?? "").hasSuffix("fp16") ? Float(ref["tolerance"] as! Double) : nil
        for (name, ids, expected) in cases {
            let (tokens, positions, mask) = try ForwardTests.packed(ids)
            let acts = Activations(config: model.config, capacity: tokens.count)
            try model.forward(tokens: tokens, positions: positions, mask: mask, activations: acts)
            #expect(expected.count == tokens.count, "\(fixture) \(name): \(expected.count) reference rows")
            var cmp = LogitComparison(halfTolerance.map { Tolerance(absolute: Double($0)) } ?? .ofLargest(1e-4))
            for (r, row) in expected.enumerated() { cmp.add(acts.logits + r * model.config.vocabSize, row) }
            #expect(cmp.comparison.largestReference > 0, "\(fixture) \(name): the reference logits are all zero; \(FixtureModels.regenerate)")
            #expect(cmp.passes, "\(cmp.message("\(fixture) \(name) imported vs onnxruntime\(halfTolerance == nil ? "" : " fp16")"))")
        }
    }
}
