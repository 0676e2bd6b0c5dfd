import Foundation
import Testing
import ModelFiles
import Tokenization
@testable import ModelIO
@testable import Transformer

/// `Importer.run` end to end: the workspace's `base/` is an HF folder our own loader reads back
/// equal to the reference checkpoint, for ONNX, safetensors-file and HF-folder sources.
@Suite struct ImportCommandTests {
    static let tokenizerFixture = FixtureModels.root.deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Tests/TokenizationTests/Fixtures/qwen2.tokenizer.json")

    func expectBaseEqualsReference(_ workspace: Workspace, hf: URL) throws {
        let (config, imported) = try CheckpointLoading.loadFolder(workspace.base)
        let (refConfig, reference) = try CheckpointLoading.loadFolder(hf)
        #expect(config.parameterSpecs == refConfig.parameterSpecs)
        for e in reference.entries {
            let a = UnsafeBufferPointer(start: imported[e.spec.name], count: e.spec.count)
            let b = UnsafeBufferPointer(start: reference.base + e.offset, count: e.spec.count)
            #expect(a.elementsEqual(b) { $0.bitPattern == $1.bitPattern }, "\(e.spec.name); \(FixtureModels.regenerate)")
        }
    }

    @Test(arguments: ["qwen2-legacy-folded", "llama-dynamo-optimized", "gpt2-external-data", "qwen2-hf", "llama-hf"])
    func importWritesAnHFFolderWithTheImportMap(fixture: String) throws {
        let root = try ImportSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let workspace = Workspace(root: root.appendingPathComponent("ws"))
        let source = fixture.hasSuffix("-hf") ? FixtureModels.folder(fixture)
            : FixtureModels.folder(fixture).appendingPathComponent("model.onnx")
        let summary = try Importer.run(.init(source: source, workspace: workspace))
        #expect(summary.family == (try ImportSupport.config(of: fixture)).family)
        try expectBaseEqualsReference(workspace, hf: ImportSupport.hfFolder(of: fixture))
        let map = try ImportMap.read(workspace.baseImportMap)
        #expect(map.entries.count == summary.tensors)
        #expect(map.source.path == source.standardizedFileURL.path)
        let onnx = !fixture.hasSuffix("-hf")
        #expect(map.source.format == (onnx ? "onnx" : "hf-folder"))
        if onnx {
            #expect(map.source.sha256 == SHA256.hex(try Data(contentsOf: source)))
            #expect(map.source.bytes == (try Data(contentsOf: source)).count)
        }
        if fixture == "gpt2-external-data" {
            #expect(map.source.files.map(\.name) == ["model.onnx.data"])
            #expect(map.entry("transformer.wte.weight")?.duplicates.map(\.transposed) == [true])
            #expect(map.entry("transformer.h.0.attn.c_attn.weight")?.source.storage.kind == "external")
        }
        // Nothing but base/ is left in the workspace (no temporary folders).
        #expect(try FileManager.default.contentsOfDirectory(atPath: workspace.root.path) == ["base"])
    }

    @Test func safetensorsFileImportsWithTheConfigBesideIt() throws {
        let root = try ImportSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let workspace = Workspace(root: root)
        _ = try Importer.run(.init(source: FixtureModels.folder("qwen2-hf").appendingPathComponent("model.safetensors"), workspace: workspace))
        try expectBaseEqualsReference(workspace, hf: FixtureModels.folder("qwen2-hf"))
        let map = try ImportMap.read(workspace.baseImportMap)
        #expect(map.source.format == "safetensors")
        #expect(map.source.sha256 == SHA256.hex(try Data(contentsOf: FixtureModels.folder("qwen2-hf").appendingPathComponent("model.safetensors"))))
    }

    @Test func tokenizerIsCopiedAndItsVocabularyChecked() throws {
        let root = try ImportSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let workspace = Workspace(root: root.appendingPathComponent("ws"))
        let source = FixtureModels.folder("qwen2-legacy-folded").appendingPathComponent("model.onnx")
        // The fixture tokenizer (904 ids) does not fit the 128-row fixture embedding: refused.
        let error = #expect(throws: ImportError.self) {
            try Importer.run(.init(source: source, tokenizer: Self.tokenizerFixture, workspace: workspace)) {
                try Tokenizer(contentsOf: $0).vocabularySize
            }
        }
        #expect(error?.description.contains("vocab_size 128") == true && error?.description.contains("found 904") == true, "\(String(describing: error))")
        #expect(!FileManager.default.fileExists(atPath: workspace.base.path))
        // Without the check the file is copied as is.
        _ = try Importer.run(.init(source: source, tokenizer: Self.tokenizerFixture, workspace: workspace))
        #expect(try Data(contentsOf: workspace.baseTokenizer) == Data(contentsOf: Self.tokenizerFixture))
    }

    @Test func aSecondImportNeedsReplaceAndSwapsTheBase() throws {
        let root = try ImportSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let workspace = Workspace(root: root)
        _ = try Importer.run(.init(source: FixtureModels.folder("llama-hf"), workspace: workspace))
        let error = #expect(throws: ImportError.self) {
            try Importer.run(.init(source: FixtureModels.folder("qwen2-hf"), workspace: workspace))
        }
        // The library names the setting; the command line adds the flag (ExitStatusTests).
        #expect(error?.kind == .workspace && error?.setting == .replaceModel && error?.message.contains("--") == false)
        let summary = try Importer.run(.init(source: FixtureModels.folder("qwen2-hf"), workspace: workspace, replace: true))
        #expect(summary.family == .qwen2)
        try expectBaseEqualsReference(workspace, hf: FixtureModels.folder("qwen2-hf"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path) == ["base"])
    }

    /// A user's file, folder or link named `base` in the workspace is never deleted or replaced by
    /// an import, with or without `--replace` (a file named base was deleted, exit 0).
    @Test(arguments: ["file", "folder", "link"], [false, true])
    func somethingNamedBaseThatImportDidNotWriteIsLeftAlone(kind: String, replace: Bool) throws {
        let root = try ImportSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let workspace = Workspace(root: root)
        let fm = FileManager.default
        let target = root.appendingPathComponent("notes.txt")
        try Data("my notes".utf8).write(to: target)
        switch kind {
        case "file": try Data("user data".utf8).write(to: workspace.base)
        case "folder":
            try fm.createDirectory(at: workspace.base, withIntermediateDirectories: false)
            try Data("user data".utf8).write(to: workspace.base.appendingPathComponent("config.json"))
        default: try fm.createSymbolicLink(at: workspace.base, withDestinationURL: target)
        }
        let before = ImportSupport.snapshot(root)
        let error = #expect(throws: ImportError.self) {
            try Importer.run(.init(source: FixtureModels.folder("llama-hf"), workspace: workspace, replace: replace))
        }
        #expect(error?.kind == .workspace && error?.file == workspace.base.path, "\(String(describing: error))")
        #expect(error?.message.contains("left as it is") == true)
        #expect(ImportSupport.snapshot(root) == before)
        #expect((try? fm.destinationOfSymbolicLink(atPath: workspace.base.path)) == (kind == "link" ? target.path : nil))
    }

    /// The config read off the graph equals the exporter's config.json in every field the graph
    /// determines (max positions of a RoPE model and token ids are not in the graph).
    @Test(arguments: ImportSupport.onnxFixtures)
    func configInferredFromTheGraphMatchesTheRealConfig(fixture: String) throws {
        let real = try ImportSupport.config(of: fixture)
        let inferred = try ConfigInference.infer(try ImportSupport.onnx(fixture), directory: FixtureModels.folder(fixture))
        var c = inferred.config
        if c.family != .gpt2 { c.maxPositions = real.maxPositions }
        c.bosTokenId = real.bosTokenId
        c.eosTokenIds = real.eosTokenIds
        #expect(c == real, "\(fixture): inferred \(c)\n real \(real)\n notes: \(inferred.notes.joined(separator: "\n"))")
    }

    @Test func withoutAConfigBesideTheONNXFileTheConfigIsInferredAndReported() throws {
        let folder = try ImportSupport.copyFixture("qwen2-legacy-folded")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.removeItem(at: folder.appendingPathComponent("config.json"))
        let workspace = Workspace(root: folder.appendingPathComponent("ws"))
        let summary = try Importer.run(.init(source: folder.appendingPathComponent("model.onnx"), workspace: workspace))
        #expect(summary.configSource.hasPrefix("inferred"))
        #expect(summary.inferenceNotes.contains { $0.hasPrefix("rope_theta = 1000000.0") })
        #expect(summary.lines.contains("  inferred:"))
        try expectBaseEqualsReference(workspace, hf: FixtureModels.folder("qwen2-hf"))
    }
}
