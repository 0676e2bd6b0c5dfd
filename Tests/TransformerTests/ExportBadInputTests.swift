import Foundation
import Testing
import ModelFiles
@testable import ModelIO
@testable import Transformer
#if canImport(Glibc)
import Glibc
#endif

/// Bad input and failed writes: each refused with the file, the tensor / field, and expected vs
/// found named; nothing half-written left behind and an existing export exactly as it was.
@Suite struct ExportBadInputTests {
    /// Runs `request`, expects an ExportError of `kind` whose text holds every piece, and the
    /// workspace's folder (the export's parent included) unchanged.
    @discardableResult
    func expectRefused(_ request: Exporter.Request, _ kind: ExportError.Kind, _ pieces: [String],
                       sourceLocation: SourceLocation = #_sourceLocation) -> ExportError? {
        let root = request.workspace.root
        let before = ImportSupport.snapshot(root)
        var caught: ExportError? = nil
        do {
            _ = try Exporter.run(request)
            Issue.record("expected the export to be refused", sourceLocation: sourceLocation)
        } catch let error as ExportError {
            caught = error
            #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation)
            for piece in pieces {
                #expect(error.description.contains(piece), "message lacks '\(piece)': \(error)", sourceLocation: sourceLocation)
            }
        } catch {
            Issue.record("expected an ExportError, found \(error)", sourceLocation: sourceLocation)
        }
        #expect(ImportSupport.snapshot(root) == before, "the workspace changed", sourceLocation: sourceLocation)
        return caught
    }

    @Test func missingWorkspaceOrImport() throws {
        let folder = try ImportSupport.temporaryFolder("export-bad")
        defer { try? FileManager.default.removeItem(at: folder) }
        let missing = Workspace(root: folder.appendingPathComponent("nowhere"))
        let error = #expect(throws: ExportError.self) { try Exporter.run(.init(workspace: missing)) }
        #expect(error?.kind == .workspace && error?.description.contains("nowhere") == true
                && error?.description.contains("import a model first") == true && error?.setting == .workspace, "\(String(describing: error))")
        #expect(!FileManager.default.fileExists(atPath: missing.root.path))
        let empty = Workspace(root: folder)
        expectRefused(.init(workspace: empty), .workspace, ["base", "expected an imported model"])
    }

    @Test func missingCheckpoint() throws {
        let workspace = try ExportSupport.imported("llama-legacy-folded")
        defer { ExportSupport.remove(workspace) }
        try ExportSupport.writeCheckpoint(workspace, run: "alpha")
        expectRefused(.init(workspace: workspace, checkpoint: "beta"), .checkpoint, ["no checkpoint 'beta'", "alpha"])
        expectRefused(.init(workspace: workspace, checkpoint: "alpha/step-00000009"), .checkpoint, ["alpha/step-00000009"])
        // A checkpoint folder without its weights.
        try FileManager.default.removeItem(at: workspace.checkpointsFolder(run: "alpha").appendingPathComponent("step-00000003/model.safetensors"))
        expectRefused(.init(workspace: workspace), .checkpoint, ["model.safetensors", "expected the weights file"])
    }

    @Test func checkpointShapesMustMatchTheImportMap() throws {
        let workspace = try ExportSupport.imported("qwen2-optimum")
        defer { ExportSupport.remove(workspace) }
        let trained = try ExportSupport.writeCheckpoint(workspace)
        let weights = workspace.checkpointsFolder(run: "r").appendingPathComponent("step-00000003/model.safetensors")
        func rewrite(_ change: (String, [Int]) -> (String, [Int])?) throws {
            let entries = try trained.entries.compactMap { e -> SafeTensorsWriter.Entry? in
                guard let (name, shape) = change(e.spec.name, e.spec.shape) else { return nil }
                return try SafeTensorsWriter.Entry(name: name, dtype: .f32, shape: shape,
                                                   data: Data(bytes: trained.base + e.offset, count: shape.reduce(1, *) * 4))
            }
            try SafeTensorsWriter.write(entries, to: weights)
        }
        try rewrite { name, shape in name == "model.norm.weight" ? (name, [shape[0] / 2]) : (name, shape) }
        expectRefused(.init(workspace: workspace), .checkpoint, ["model.safetensors", "tensor 'model.norm.weight'", "expected shape [64]", "found [32]", "import-map.json"])
        try rewrite { name, shape in name == "model.layers.1.mlp.up_proj.weight" ? (name, [shape[1], shape[0]]) : (name, shape) }
        expectRefused(.init(workspace: workspace), .checkpoint, ["model.layers.1.mlp.up_proj.weight", "expected shape [96, 64]", "found [64, 96]"])
        try rewrite { name, shape in name == "lm_head.weight" ? nil : (name, shape) }
        expectRefused(.init(workspace: workspace), .checkpoint, ["lm_head.weight", "found no such tensor"])
        try rewrite { name, shape in name == "model.norm.weight" ? ("model.final_norm.weight", shape) : (name, shape) }
        expectRefused(.init(workspace: workspace), .checkpoint, ["model.final_norm.weight", "found this one too"])
    }

    @Test func originalONNXChangedSinceImport() throws {
        let (workspace, source) = try ExportSupport.importedCopy("gpt2-external-data")
        defer { try? FileManager.default.removeItem(at: source) }
        try ExportSupport.writeCheckpoint(workspace)
        let onnx = source.appendingPathComponent("model.onnx")
        let original = try Data(contentsOf: onnx)
        var edited = original
        edited[edited.count / 2] ^= 0x01
        try edited.write(to: onnx)
        let map = try ImportMap.read(workspace.baseImportMap)
        expectRefused(.init(workspace: workspace), .source, ["model.onnx", "SHA-256", map.source.sha256, SHA256.hex(edited), "changed since the import"])
        // The HF folder alone does not need the graph.
        _ = try Exporter.run(.init(workspace: workspace, formats: [.safetensors]))
        try FileManager.default.removeItem(at: workspace.export)

        try original.write(to: onnx)
        let data = source.appendingPathComponent("model.onnx.data")
        try (try Data(contentsOf: data) + Data(count: 8)).write(to: data)
        expectRefused(.init(workspace: workspace), .source, ["model.onnx.data", "size", "changed since the import"])
        try FileManager.default.removeItem(at: onnx)
        expectRefused(.init(workspace: workspace), .source, ["model.onnx", "found nothing at this path"])
    }

    @Test func anExistingExportIsKeptUnlessReplaced() throws {
        let workspace = try ExportSupport.imported("llama-legacy-folded")
        defer { ExportSupport.remove(workspace) }
        _ = try Exporter.run(.init(workspace: workspace))
        try ExportSupport.writeCheckpoint(workspace)
        let kept = expectRefused(.init(workspace: workspace), .output, ["export", "replace it or choose another output folder"])
        #expect(kept?.setting == .replaceExport && !(kept?.description.contains("--") ?? true), "\(String(describing: kept))")
        let other = workspace.root.appendingPathComponent("notes")
        try FileManager.default.createDirectory(at: other, withIntermediateDirectories: true)
        try Data("mine".utf8).write(to: other.appendingPathComponent("todo.txt"))
        expectRefused(.init(workspace: workspace, out: other, replace: true), .output, ["only replaces an export folder", "todo.txt"])
        let summary = try Exporter.run(.init(workspace: workspace, replace: true))
        #expect(!summary.untrained)
        #expect(try FileManager.default.contentsOfDirectory(atPath: workspace.root.path).sorted() == ["base", "export", "notes", "runs"])
    }

    /// A disk that fills up at any point of the export (simulated through the write seam: every
    /// write past the budget fails with ENOSPC, as write(2) does) leaves the previous export as
    /// it was and no temporary behind. tools/check_export_interop.py's README note shows the same
    /// on a real 1 MB tmpfs.
    @Test(arguments: ["gpt2-external-data", "qwen2-legacy-folded"])
    func noRoomOnDiskAtAnyPointLeavesThePreviousExport(fixture: String) throws {
        let workspace = try ExportSupport.imported(fixture)
        defer { ExportSupport.remove(workspace) }
        _ = try Exporter.run(.init(workspace: workspace))
        let total = ImportSupport.snapshot(workspace.export).values.reduce(0) { $0 + $1.count }
        try ExportSupport.writeCheckpoint(workspace)
        // Fail in the data file, the graph, the safetensors, the small files and EXPORT.md.
        for budget in [0, 1000, total / 3, total / 2, total * 2 / 3, total - 3000, total - 10] {
            let error = expectRefused(.init(workspace: workspace, replace: true, budget: ExportByteBudget(bytes: budget)), .io,
                                      ["No space left on device (errno 28)"])
            #expect(error?.file.contains(".export.tmp-") == true, "\(String(describing: error))")
        }
        // With room, it goes through.
        _ = try Exporter.run(.init(workspace: workspace, replace: true, budget: ExportByteBudget(bytes: total * 2)))
    }

    /// A killed export leaves a hidden temporary (and, killed between the two renames, the
    /// previous export moved aside); the next export cleans up and restores.
    @Test func leftoversOfAKilledExportAreCleanedUp() throws {
        let workspace = try ExportSupport.imported("qwen2-legacy-folded")
        defer { ExportSupport.remove(workspace) }
        _ = try Exporter.run(.init(workspace: workspace))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        let dead = process.processIdentifier
        let root = workspace.root
        let before = ImportSupport.snapshot(workspace.export)
        try FileManager.default.createDirectory(at: root.appendingPathComponent(".export.tmp-\(dead)-abc/onnx"), withIntermediateDirectories: true)
        #expect(rename(workspace.export.path, root.appendingPathComponent(".export.old-\(dead)-def").path) == 0)
        // The next export finds the previous one put back, so it needs --replace.
        let error = #expect(throws: ExportError.self) { try Exporter.run(.init(workspace: workspace)) }
        #expect(error?.kind == .output)
        #expect(ImportSupport.snapshot(workspace.export) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path).sorted() == ["base", "export"])
    }

    /// One node (an Identity) feeds both merged norms: trained apart they cannot be split
    /// without changing more of the graph, so the export is refused, naming the node.
    @Test func aSharedTensorWhoseConsumersCannotBeToldApartIsRefused() throws {
        let folder = try ImportSupport.copyFixture("llama_equalnorms-dynamo-optimized")
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("model.onnx")
        var model = try ONNXModel(contentsOf: url)
        let shared = "model.layers.0.input_layernorm.weight"
        var identity = Onnx_NodeProto()
        identity.opType = "Identity"
        identity.name = "shared_identity"
        identity.input = [shared]
        identity.output = ["shared_alias"]
        for i in model.proto.graph.node.indices {
            model.proto.graph.node[i].input = model.proto.graph.node[i].input.map { $0 == shared ? "shared_alias" : $0 }
        }
        model.proto.graph.node.insert(identity, at: 0)
        try model.write(to: url)
        let workspace = Workspace(root: folder.appendingPathComponent("ws"))
        _ = try Importer.run(.init(source: url, workspace: workspace))
        #expect(try ImportMap.read(workspace.baseImportMap).entry(shared)?.sharedWith.isEmpty == false)
        try ExportSupport.writeCheckpoint(workspace)
        expectRefused(.init(workspace: workspace), .split, ["tensor '\(shared)'", "node 'shared_identity' (Identity)", "at once", "cannot split"])
        // Trained equal, there is nothing to split.
        try FileManager.default.removeItem(at: workspace.runs)
        let names = try ImportMap.read(workspace.baseImportMap).entries.filter { $0.source.name == shared }.map(\.parameter)
        try ExportSupport.writeCheckpoint(workspace, keepEqual: names)
        _ = try Exporter.run(.init(workspace: workspace))
    }
}
