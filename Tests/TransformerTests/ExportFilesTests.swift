import Foundation
import Testing
import ModelFiles
@testable import ModelIO
@testable import Transformer

/// What an export folder holds besides the round-tripped weights: sharded safetensors with
/// their index, the 2 GB protobuf rule (moving weights to external data), tokenizer and
/// generation files, and EXPORT.md's provenance.
@Suite struct ExportFilesTests {
    @Test func shardedSafetensorsHaveAnIndexAndLoadBack() throws {
        let workspace = try ExportSupport.imported("qwen2-legacy-folded")
        defer { ExportSupport.remove(workspace) }
        let trained = try ExportSupport.writeCheckpoint(workspace)
        _ = try Exporter.run(.init(workspace: workspace, formats: [.safetensors], maxShardBytes: 40_000))
        let hf = workspace.export.appendingPathComponent("hf")
        let names = try FileManager.default.contentsOfDirectory(atPath: hf.path).sorted()
        let shards = names.filter { $0.hasPrefix("model-") }
        #expect(shards.count > 2 && names.contains(SafeTensorsShards.indexFileName) && !names.contains("model.safetensors"), "\(names)")
        #expect(shards.last == SafeTensorsShards.shardName(shards.count, of: shards.count))
        let (_, loaded) = try CheckpointLoading.loadFolder(hf)
        #expect(ExportSupport.firstDifference(loaded.base, trained.base, count: trained.count) == nil)
        #expect(!FileManager.default.fileExists(atPath: workspace.export.appendingPathComponent("onnx").path))
    }

    /// A protobuf that would pass the limit (2 GB in real life; 150 KB here) keeps its graph and
    /// moves the weights to `model.onnx.data`, which our importer (and onnxruntime, in
    /// tools/check_export_interop.py) reads back.
    @Test(arguments: ["qwen2-legacy-folded", "llama_equalnorms-legacy-unfolded", "qwen2-legacy-folded-fp16"])
    func aProtobufOverTheLimitMovesItsWeightsToExternalData(fixture: String) throws {
        let workspace = try ExportSupport.imported(fixture)
        defer { ExportSupport.remove(workspace) }
        let trained = try ExportSupport.writeCheckpoint(workspace)
        let summary = try Exporter.run(.init(workspace: workspace, formats: [.onnx], maxProtobufBytes: 150_000))
        #expect(summary.notes.contains { $0.contains("moved to external data") }, "\(summary.lines)")
        let onnx = ExportSupport.onnx(workspace)
        let size = try FileManager.default.attributesOfItem(atPath: onnx.path)[.size] as! Int
        #expect(size < 150_000)
        #expect(FileManager.default.fileExists(atPath: onnx.path + ".data"))
        let loaded = try Importer.load(.init(source: onnx, config: workspace.baseConfig))
        for e in trained.entries {
            let got = loaded.parameters[e.spec.name], want = trained.base + e.offset
            let half = loaded.map.entry(e.spec.name)?.source.dtype == "FLOAT16"
            let bad = (0..<e.spec.count).first { i in
                half ? got[i] != Float(Float16(want[i])) : got[i].bitPattern != want[i].bitPattern
            }
            #expect(bad == nil, "\(fixture): \(e.spec.name) at \(bad ?? -1)")
        }
        #expect(loaded.map.entries.allSatisfy { $0.source.storage.kind == "external" || $0.shape.reduce(1, *) * 4 < 1024 })
    }

    @Test func tokenizerAndGenerationFilesAreWritten() throws {
        let workspace = try ExportSupport.imported("qwen2-legacy-folded", tokenizer: ImportCommandTests.tokenizerFixture)
        defer { ExportSupport.remove(workspace) }
        _ = try Exporter.run(.init(workspace: workspace))
        let hf = workspace.export.appendingPathComponent("hf")
        #expect(try Data(contentsOf: hf.appendingPathComponent("tokenizer.json")) == Data(contentsOf: ImportCommandTests.tokenizerFixture))
        let tokenizerConfig = try JSONSerialization.jsonObject(with: Data(contentsOf: hf.appendingPathComponent("tokenizer_config.json"))) as! [String: Any]
        #expect(tokenizerConfig["tokenizer_class"] as? String == "PreTrainedTokenizerFast")
        #expect(tokenizerConfig["model_max_length"] as? Int == 64)
        let generation = try JSONSerialization.jsonObject(with: Data(contentsOf: hf.appendingPathComponent("generation_config.json"))) as! [String: Any]
        #expect(generation["bos_token_id"] as? Int == 1 && generation["eos_token_id"] as? Int == 2, "\(generation)")
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: hf.appendingPathComponent("config.json"))) as! [String: Any]
        let base = try JSONSerialization.jsonObject(with: Data(contentsOf: workspace.baseConfig)) as! [String: Any]
        #expect(config["dtype"] as? String == "float32" && config["model_type"] as? String == "qwen2")
        #expect(Set(config.keys) == Set(base.keys))
        #expect(try ModelConfig(hf: HFConfig(contentsOf: hf.appendingPathComponent("config.json"))) == ModelConfig(hf: HFConfig(contentsOf: workspace.baseConfig)))

        // Without a tokenizer in the workspace there is none in the export either.
        let bare = try ExportSupport.imported("qwen2-legacy-folded")
        defer { ExportSupport.remove(bare) }
        _ = try Exporter.run(.init(workspace: bare))
        let names = try FileManager.default.contentsOfDirectory(atPath: bare.export.appendingPathComponent("hf").path).sorted()
        #expect(names == ["config.json", "generation_config.json", "model.safetensors"])

        // Generation settings that came with the model (beside the source) are kept as they are.
        let (withSettings, folder) = try ExportSupport.importedCopy("qwen2-legacy-folded")
        defer { try? FileManager.default.removeItem(at: folder) }
        let settings = Data("{\n  \"do_sample\": true,\n  \"eos_token_id\": 2,\n  \"temperature\": 0.7\n}\n".utf8)
        try settings.write(to: folder.appendingPathComponent("generation_config.json"))
        _ = try Exporter.run(.init(workspace: withSettings, formats: [.safetensors]))
        #expect(try Data(contentsOf: withSettings.export.appendingPathComponent("hf/generation_config.json")) == settings)
    }

    @Test func provenanceNamesSourceCheckpointDigestAndEveryFile() throws {
        let workspace = try ExportSupport.imported("gpt2-external-data")
        defer { ExportSupport.remove(workspace) }
        try ExportSupport.writeCheckpoint(workspace, run: "first", step: 2, digest: "d1")
        try ExportSupport.writeCheckpoint(workspace, run: "second", step: 5, digest: "abc123")
        let date = Date(timeIntervalSince1970: 1_800_000_000)
        let summary = try Exporter.run(.init(workspace: workspace, date: date))
        #expect(summary.weights.contains("run 'second' step 5"), "the newest run by trainer.json time: \(summary.weights)")
        let text = try String(contentsOf: workspace.export.appendingPathComponent("EXPORT.md"), encoding: .utf8)
        let map = try ImportMap.read(workspace.baseImportMap)
        for piece in [map.source.path, map.source.sha256, "run `second`, checkpoint step 5", "| training config digest | `abc123` |",
                      "2027-01-15T08:00:00Z", "initializers rewritten"] {
            #expect(text.contains(piece), "EXPORT.md lacks '\(piece)':\n\(text)")
        }
        for file in ["onnx/model.onnx", "onnx/model.onnx.data", "hf/model.safetensors", "hf/config.json", "hf/generation_config.json"] {
            let data = try Data(contentsOf: workspace.export.appendingPathComponent(file))
            #expect(text.contains("| `\(file)` | \(data.count) | `\(SHA256.hex(data))` |"), "EXPORT.md row of \(file)")
        }

        // A checkpoint named explicitly, one without trainer.json, and the base.
        try FileManager.default.removeItem(at: workspace.checkpointsFolder(run: "first").appendingPathComponent("step-00000002/trainer.json"))
        _ = try Exporter.run(.init(workspace: workspace, checkpoint: "first", replace: true))
        #expect(try String(contentsOf: workspace.export.appendingPathComponent("EXPORT.md"), encoding: .utf8).contains("| training config digest | none |"))
        let base = try Exporter.run(.init(workspace: workspace, checkpoint: "base", replace: true))
        #expect(base.untrained)
        #expect(try String(contentsOf: workspace.export.appendingPathComponent("EXPORT.md"), encoding: .utf8).contains("none: the untrained import"))
    }

    /// A workspace imported from safetensors has no graph: the default exports the HF folder and
    /// says why there is no ONNX; asking for ONNX is refused.
    @Test func aSafetensorsImportExportsOnlyTheHFFolder() throws {
        let workspace = try ExportSupport.imported("llama-hf")
        defer { ExportSupport.remove(workspace) }
        let trained = try ExportSupport.writeCheckpoint(workspace)
        let summary = try Exporter.run(.init(workspace: workspace))
        #expect(summary.notes.contains { $0.contains("no ONNX written") })
        let (_, hf) = try CheckpointLoading.loadFolder(workspace.export.appendingPathComponent("hf"))
        #expect(ExportSupport.firstDifference(hf.base, trained.base, count: trained.count) == nil)
        let error = #expect(throws: ExportError.self) { try Exporter.run(.init(workspace: workspace, formats: [.onnx], replace: true)) }
        #expect(error?.kind == .unsupported && error?.setting == .exportFormat && error?.message.contains("export safetensors instead") == true,
                "\(String(describing: error))")
    }

    /// Logits of the checkpoint that export takes, as `treerpo export-logits` prints them: the
    /// same numbers as our forward over the exported HF folder.
    @Test func exportLogitsAreTheForwardOfTheExportedWeights() throws {
        let workspace = try ExportSupport.imported("llama-legacy-folded")
        defer { ExportSupport.remove(workspace) }
        try ExportSupport.writeCheckpoint(workspace)
        _ = try Exporter.run(.init(workspace: workspace, formats: [.safetensors]))
        let source = try ExportSource.load(workspace: workspace, checkpoint: nil)
        let logits = try ExportLogits.compute(source, sequences: [[1, 5, 9, 3], [7, 2]])
        let model = try TransformerModel(folder: workspace.export.appendingPathComponent("hf"))
        for (s, ids) in [[1, 5, 9, 3], [7, 2]].enumerated() {
            let (tokens, positions, mask) = try ForwardTests.packed([ids])
            let acts = Activations(config: model.config, capacity: tokens.count)
            try model.forward(tokens: tokens, positions: positions, mask: mask, activations: acts)
            for r in 0..<ids.count {
                let row = Array(UnsafeBufferPointer(start: acts.logits + r * model.config.vocabSize, count: model.config.vocabSize))
                #expect(row == logits[s][r])
            }
        }
        #expect(throws: ModelError.self) { try ExportLogits.compute(source, sequences: [[1, 500]]) }
    }
}
