import Foundation
import Testing
import TestSupport
import ModelFiles
@testable import ModelIO
@testable import Transformer

/// Shared helpers of the Export*Tests: workspaces imported from the fixtures, seeded
/// "trained" checkpoints written in the trainer's layout, and reading exported tensors back.
enum ExportSupport {
    /// A fresh workspace holding `fixture` imported (its model.onnx, or the folder for `-hf`).
    static func imported(_ fixture: String, tokenizer: URL? = nil) throws -> Workspace {
        let root = try ImportSupport.temporaryFolder("export")
        let workspace = Workspace(root: root.appendingPathComponent("ws"))
        let source = fixture.hasSuffix("-hf") ? FixtureModels.folder(fixture)
            : FixtureModels.folder(fixture).appendingPathComponent("model.onnx")
        _ = try Importer.run(.init(source: source, tokenizer: tokenizer, workspace: workspace))
        return workspace
    }

    /// A workspace imported from a private copy of `fixture` (to edit the source afterwards).
    static func importedCopy(_ fixture: String) throws -> (Workspace, source: URL) {
        let folder = try ImportSupport.copyFixture(fixture)
        let workspace = Workspace(root: folder.appendingPathComponent("ws"))
        _ = try Importer.run(.init(source: folder.appendingPathComponent("model.onnx"), workspace: workspace))
        return (workspace, folder)
    }

    static func remove(_ workspace: Workspace) {
        try? FileManager.default.removeItem(at: workspace.root.deletingLastPathComponent())
    }

    /// The base parameters moved by seeded noise (each parameter its own stream, so parameters
    /// that were equal, e.g. merged norms, now differ), written as checkpoint `run`/`step` with a
    /// trainer.json holding `digest`. `keepEqual` names parameters that get `keepEqual[0]`'s values.
    @discardableResult
    static func writeCheckpoint(_ workspace: Workspace, run: String = "r", step: Int = 3, seed: UInt64 = 7,
                                digest: String? = "digest-test", keepEqual: [String] = []) throws -> Parameters {
        let (_, parameters) = try CheckpointLoading.loadFolder(workspace.base)
        for (k, e) in parameters.entries.enumerated() {
            var rng = TestRNG(seed: seed &* 1_000_003 &+ UInt64(k))
            let p = parameters.base + e.offset
            var scale: Float = 0
            for i in 0..<e.spec.count { scale = max(scale, abs(p[i])) }
            for i in 0..<e.spec.count { p[i] += 0.05 * max(scale, 0.1) * rng.symmetric() }
        }
        if let first = keepEqual.first {
            for name in keepEqual.dropFirst() { parameters[name].update(from: parameters[first], count: parameters.entry(first)!.spec.count) }
        }
        let folder = workspace.checkpointsFolder(run: run).appendingPathComponent(CheckpointRef.folderName(step: step))
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let entries = try parameters.entries.map { e in
            try SafeTensorsWriter.Entry(name: e.spec.name, dtype: .f32, shape: e.spec.shape,
                                        data: Data(bytes: parameters.base + e.offset, count: e.spec.count * 4))
        }
        try SafeTensorsWriter.write(entries, to: folder.appendingPathComponent(CheckpointRef.modelFile))
        if let digest {
            try Data("{\"step\": \(step), \"configDigest\": \"\(digest)\"}".utf8).write(to: folder.appendingPathComponent(CheckpointRef.stateFile))
        }
        return parameters
    }

    static func onnx(_ workspace: Workspace) -> URL {
        workspace.export.appendingPathComponent("onnx/model.onnx")
    }

    /// The stored bytes of an initializer, wherever it lives: which field and the bytes.
    static func storedBytes(_ model: ONNXModel, _ name: String) throws -> (field: String, bytes: Data) {
        let t = try #require(model.initializer(named: name))
        if t.isExternal {
            var entries: [String: String] = [:]
            for e in t.proto.externalData { entries[e.key] = e.value }
            let data = try Data(contentsOf: model.externalFiles.directory!.appendingPathComponent(entries["location"]!))
            let offset = Int(entries["offset"] ?? "0")!, length = Int(entries["length"]!)!
            return ("external", data.subdata(in: offset..<(offset + length)))
        }
        if t.proto.hasRawData { return ("raw_data", t.proto.rawData) }
        return ("typed", ONNXWriteBack.Builder.inlineBytes(t.proto))
    }

    /// Imports the exported ONNX (with the workspace's config) and the exported HF folder.
    static func reimport(_ workspace: Workspace) throws -> (onnx: Importer.Loaded, hf: Parameters) {
        let onnx = try Importer.load(.init(source: onnx(workspace), config: workspace.baseConfig))
        let (_, hf) = try CheckpointLoading.loadFolder(workspace.export.appendingPathComponent("hf"))
        return (onnx, hf)
    }

    /// The first index where `a` and `b` differ bit for bit, or nil.
    static func firstDifference(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Int? {
        (0..<count).first { a[$0].bitPattern != b[$0].bitPattern }
    }
}

/// Export from an untrained import reproduces the original ONNX initializers exactly, and a
/// trained checkpoint exported and imported again (ONNX and safetensors) gives the checkpoint
/// back: bit-identical for fp32 sources, rounded to nearest in the source type (within one unit
/// in the last place) for the fp16 source. Every fixture style (tools/make_onnx_fixtures.py).
@Suite struct ExportRoundTripTests {
    @Test(arguments: ImportSupport.onnxFixtures)
    func untrainedExportReproducesTheOriginalONNX(fixture: String) throws {
        let workspace = try ExportSupport.imported(fixture)
        defer { ExportSupport.remove(workspace) }
        let summary = try Exporter.run(.init(workspace: workspace))
        #expect(summary.untrained && summary.lines[0].contains("untrained"))
        let folder = FixtureModels.folder(fixture)
        let original = try ImportSupport.onnx(fixture)
        let exported = try ONNXModel(contentsOf: ExportSupport.onnx(workspace))
        #expect(exported.initializers.map(\.name) == original.initializers.map(\.name))
        for t in original.initializers {
            let a = try ExportSupport.storedBytes(original, t.name), b = try ExportSupport.storedBytes(exported, t.name)
            #expect(a.field == b.field && a.bytes == b.bytes, "\(fixture): initializer \(t.name) changed (\(a.field) -> \(b.field))")
            #expect(exported.initializer(named: t.name)?.proto.externalData == t.proto.externalData)
        }
        // Nothing changed, so the files are the originals byte for byte (the graph, its metadata
        // and the external data alike).
        #expect(try Data(contentsOf: ExportSupport.onnx(workspace)) == Data(contentsOf: folder.appendingPathComponent("model.onnx")),
                "\(fixture): model.onnx differs from the original")
        let data = folder.appendingPathComponent("model.onnx.data")
        if FileManager.default.fileExists(atPath: data.path) {
            #expect(try Data(contentsOf: workspace.export.appendingPathComponent("onnx/model.onnx.data")) == Data(contentsOf: data))
        }
    }

    @Test(arguments: ImportSupport.onnxFixtures)
    func trainedCheckpointRoundTripsThroughBothFormats(fixture: String) throws {
        let workspace = try ExportSupport.imported(fixture)
        defer { ExportSupport.remove(workspace) }
        let trained = try ExportSupport.writeCheckpoint(workspace)
        let summary = try Exporter.run(.init(workspace: workspace))
        #expect(!summary.untrained && summary.weights.contains("run 'r' step 3"))
        let (onnx, hf) = try ExportSupport.reimport(workspace)
        #expect(fixture.hasSuffix("fp16") == onnx.map.entries.contains { $0.source.dtype == "FLOAT16" })
        for e in trained.entries {
            // The fp16 export keeps a few weights in FLOAT (the exporter's choice): per tensor type.
            let fp16 = onnx.map.entry(e.spec.name)?.source.dtype == "FLOAT16"
            let want = trained.base + e.offset
            let fromHF = ExportSupport.firstDifference(hf[e.spec.name], want, count: e.spec.count)
            #expect(fromHF == nil, "\(fixture): \(e.spec.name) from the HF folder differs at \(fromHF ?? -1)")
            let got = onnx.parameters[e.spec.name]
            if !fp16 {
                let at = ExportSupport.firstDifference(got, want, count: e.spec.count)
                #expect(at == nil, "\(fixture): \(e.spec.name) from model.onnx differs at \(at ?? -1)")
            } else {
                // Rounded to nearest even in FLOAT16, so within half a unit in the last place.
                let bad = (0..<e.spec.count).first { i in
                    let rounded = Float(Float16(want[i]))
                    let ulp = Float(Float16(want[i]).ulp)
                    return got[i] != rounded || abs(got[i] - want[i]) > ulp
                }
                #expect(bad == nil, "\(fixture): \(e.spec.name) from model.onnx not the fp16 rounding at \(bad ?? -1)")
            }
        }
        // The graph around the weights is the original: opsets, metadata, inputs / outputs (past
        // key values included), value_info, and the nodes (consumers of split tensors rewired).
        let original = try ImportSupport.onnx(fixture).proto, exported = try ONNXModel(contentsOf: ExportSupport.onnx(workspace)).proto
        #expect(exported.opsetImport == original.opsetImport && exported.metadataProps == original.metadataProps)
        #expect(exported.irVersion == original.irVersion && exported.producerName == original.producerName)
        #expect(exported.graph.output == original.graph.output && exported.graph.valueInfo == original.graph.valueInfo)
        #expect(Array(exported.graph.input.prefix(original.graph.input.count)) == original.graph.input)
        #expect(exported.graph.node.count == original.graph.node.count)
        let renamed = Set(exported.graph.initializer.dropFirst(original.graph.initializer.count).map(\.name))
        for (a, b) in zip(original.graph.node, exported.graph.node) {
            var rewired = b
            rewired.input = zip(a.input, b.input).map { renamed.contains($1) ? $0 : $1 }
            #expect(rewired == a, "\(fixture): node \(a.name) changed beyond a rewired input")
        }
        #expect(renamed.count == summary.splits.count)
    }

    /// llama_equalnorms: the exporter merged equal norms into one initializer (by name, Identity
    /// alias or module path). Trained apart, they are split and re-import finds each parameter in
    /// its own initializer; trained equal, the graph is left as it was.
    @Test(arguments: ImportSupport.onnxFixtures.filter { $0.hasPrefix("llama_equalnorms") })
    func sharedInitializersAreSplitOnlyWhenTrainingMadeThemDiffer(fixture: String) throws {
        let workspace = try ExportSupport.imported(fixture)
        defer { ExportSupport.remove(workspace) }
        let map = try ImportMap.read(workspace.baseImportMap)
        let shared = map.entries.filter { !$0.sharedWith.isEmpty }
        #expect(!shared.isEmpty, "\(fixture): expected merged initializers; \(FixtureModels.regenerate)")

        // Apart: one new initializer per parameter that left the shared one.
        try ExportSupport.writeCheckpoint(workspace)
        let summary = try Exporter.run(.init(workspace: workspace))
        #expect(summary.splits.count == shared.count - Set(shared.map(\.source.name)).count, "\(summary.splits)")
        let (reimported, _) = try ExportSupport.reimport(workspace)
        #expect(reimported.map.entries.allSatisfy { $0.sharedWith.isEmpty }, "\(fixture): still shared after the split")
        let original = try ImportSupport.onnx(fixture)
        let exported = try ONNXModel(contentsOf: ExportSupport.onnx(workspace))
        #expect(exported.initializers.count == original.initializers.count + summary.splits.count)
        #expect(try String(contentsOf: workspace.export.appendingPathComponent("EXPORT.md"), encoding: .utf8).contains("- split: "))

        // Equal: no split, the nodes untouched.
        let sharedNames = Dictionary(grouping: shared, by: \.source.name).values.map { $0.map(\.parameter) }
        try FileManager.default.removeItem(at: workspace.runs)
        try ExportSupport.writeCheckpoint(workspace, keepEqual: sharedNames[0])
        let equal = try Exporter.run(.init(workspace: workspace, replace: true))
        #expect(equal.splits.count == summary.splits.count - (sharedNames[0].count - 1))
        if sharedNames.count == 1 {
            #expect(try ONNXModel(contentsOf: ExportSupport.onnx(workspace)).proto.graph.node == original.proto.graph.node)
        }
    }

    /// GPT-2 ties its head to the embedding; the exporter keeps a transposed copy for the head
    /// (a duplicate in the import map). Both are written with the trained embedding.
    @Test(arguments: ["gpt2-dynamo-optimized", "gpt2-external-data", "gpt2-legacy-folded"])
    func duplicatesOfATiedEmbeddingAreAllWritten(fixture: String) throws {
        let workspace = try ExportSupport.imported(fixture)
        defer { ExportSupport.remove(workspace) }
        let trained = try ExportSupport.writeCheckpoint(workspace)
        _ = try Exporter.run(.init(workspace: workspace, formats: [.onnx]))
        let entry = try #require(try ImportMap.read(workspace.baseImportMap).entry("transformer.wte.weight"))
        let exported = try ONNXModel(contentsOf: ExportSupport.onnx(workspace))
        #expect(!entry.duplicates.isEmpty, "\(fixture): expected the head's copy of the embedding; \(FixtureModels.regenerate)")
        for stored in [entry.source] + entry.duplicates {
            let values = try #require(exported.initializer(named: stored.name)).floats()
            let expected = StoredEncoding.storedOrder(trained["transformer.wte.weight"], shape: entry.shape, transposed: stored.transposed)
            #expect(values.elementsEqual(expected) { $0.bitPattern == $1.bitPattern }, "\(fixture): \(stored.name) (transposed \(stored.transposed))")
        }
        #expect(!FileManager.default.fileExists(atPath: workspace.export.appendingPathComponent("hf").path))
    }
}
