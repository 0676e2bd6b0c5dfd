import Foundation
import Testing
import ModelFiles
@testable import ModelIO
@testable import Transformer

/// `treerpo export` of a model imported from GGUF (the fixtures of
/// tools/make_gguf_model_fixtures.py): written back into the source file.
@Suite struct GGUFExportTests {
    static func importedGGUF(_ family: String) throws -> (Workspace, source: URL) {
        let folder = try ImportSupport.temporaryFolder("gguf-export")
        let source = folder.appendingPathComponent("model.gguf")
        try FileManager.default.copyItem(at: GGUFImportTests.fixture(family), to: source)
        let workspace = Workspace(root: folder.appendingPathComponent("ws"))
        _ = try Importer.run(.init(source: source, workspace: workspace))
        return (workspace, source)
    }

    @Test(arguments: GGUFImportTests.families)
    func untrainedExportIsTheSourceByteForByte(family: String) throws {
        let (workspace, source) = try Self.importedGGUF(family)
        defer { ExportSupport.remove(workspace) }
        let summary = try Exporter.run(.init(workspace: workspace))
        #expect(Set(summary.files) .isSuperset(of: ["gguf/model.gguf", "hf/model.safetensors", "hf/config.json", "EXPORT.md"]), "\(summary.files)")
        let exported = try Data(contentsOf: workspace.export.appendingPathComponent("gguf/model.gguf"))
        #expect(exported == (try Data(contentsOf: source)), "\(family): untrained GGUF export differs from the source")
        let provenance = try String(contentsOf: workspace.export.appendingPathComponent("EXPORT.md"), encoding: .utf8)
        #expect(provenance.contains("gguf/model.gguf"))
    }

    @Test(arguments: GGUFImportTests.families)
    func trainedExportReQuantisesChangedTensorsInTheirSourceType(family: String) throws {
        let (workspace, source) = try Self.importedGGUF(family)
        defer { ExportSupport.remove(workspace) }
        let trained = try ExportSupport.writeCheckpoint(workspace)
        _ = try Exporter.run(.init(workspace: workspace))
        let original = try GGUFFile(contentsOf: source)
        let exported = try GGUFFile(contentsOf: workspace.export.appendingPathComponent("gguf/model.gguf"))
        // Same metadata and tensor infos: the header bytes are identical.
        #expect(exported.data.prefix(exported.dataStart) == original.data.prefix(original.dataStart))
        let config = try Importer.load(.init(source: source)).config
        let map = try ImportMap.read(workspace.baseImportMap)
        for info in exported.tensors {
            let parameter = try #require(map.entries.first { e in ([e.source] + e.duplicates).contains { $0.name == info.name } }).parameter
            let (_, layout) = try #require(GGUFNames.huggingFace(info.name, family: config.family))
            let spec = trained.entry(parameter)!.spec
            let values = GGUFNames.fromHuggingFace(Array(UnsafeBufferPointer(start: trained[parameter], count: spec.count)),
                                                   hfShape: spec.shape, layout: layout, heads: GGUFNames.permutationHeads(parameter, config: config))
            let expected = try values.withUnsafeBufferPointer { try GGUFQuantize.bytes($0, as: info.type) }
            #expect([UInt8](exported.bytes(info)) == expected, "\(family) \(info.name) (\(info.type)): not our re-quantisation of the trained values")
            #expect(exported.bytes(info) != original.bytes(info), "\(info.name) kept its source bytes although trained")
        }
        // Read back through the importer, the trained model comes back within the types' rounding.
        let back = try Importer.load(.init(source: workspace.export.appendingPathComponent("gguf/model.gguf")))
        var worst: Float = 0
        for e in trained.entries {
            let a = trained[e.spec.name], b = back.parameters[e.spec.name]
            var scale: Float = 0
            for i in 0..<e.spec.count { scale = max(scale, abs(a[i])) }
            for i in 0..<e.spec.count { worst = max(worst, abs(a[i] - b[i]) / max(scale, 1e-6)) }
        }
        // Q8_0 rounds to 1/254 of a block's range; F16 to 2^-11 relative.
        #expect(worst < 1.0 / 100, "\(family): largest re-read error \(worst) of a parameter's max |value|")
    }

    @Test func ggufTypeWritesEveryMatrixInThatType() throws {
        let (workspace, _) = try Self.importedGGUF("qwen2")
        defer { ExportSupport.remove(workspace) }
        let trained = try ExportSupport.writeCheckpoint(workspace)
        var request = Exporter.Request(workspace: workspace, formats: [.gguf])
        request.ggufType = .q8_0
        let summary = try Exporter.run(request)
        #expect(summary.files.filter { $0.hasPrefix("hf/") }.isEmpty)
        let exported = try GGUFFile(contentsOf: workspace.export.appendingPathComponent("gguf/model.gguf"))
        #expect(exported.tensors.allSatisfy { $0.type == ($0.dims.count == 1 ? .f32 : .q8_0) })
        #expect(exported["general.file_type"] == nil || exported["general.file_type"] == .uint32(7))
        let back = try Importer.load(.init(source: workspace.export.appendingPathComponent("gguf/model.gguf")))
        let name = "model.layers.0.mlp.up_proj.weight"
        let a = trained[name], b = back.parameters[name]
        let count = trained.entry(name)!.spec.count
        let expected = try GGUFQuantize.bytes(UnsafeBufferPointer(start: a, count: count), as: .q8_0)
        let bytes = [UInt8](exported.bytes(try exported.tensor("blk.0.ffn_up.weight")))
        #expect(bytes == expected)
        #expect((0..<count).allSatisfy { abs(a[$0] - b[$0]) < 0.05 })
    }

    @Test func aChangedSourceOrAnONNXRequestIsRefusedAndNothingIsWritten() throws {
        let (workspace, source) = try Self.importedGGUF("llama")
        defer { ExportSupport.remove(workspace) }
        var bytes = try Data(contentsOf: source)
        bytes[bytes.count - 1] ^= 1
        try bytes.write(to: source)
        do {
            _ = try Exporter.run(.init(workspace: workspace, formats: [.gguf]))
            Issue.record("an export into a changed GGUF was accepted")
        } catch {
            #expect("\(error)".contains("SHA-256") && "\(error)".contains("model.gguf"), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: workspace.export.path))
        do {
            _ = try Exporter.run(.init(workspace: workspace, formats: [.gguf, .onnx]))
            Issue.record("ONNX export of a GGUF import was accepted")
        } catch {
            #expect("\(error)".contains("imported from gguf"), "\(error)")
        }
    }
}
