import Foundation
import Testing
import ModelFiles
import TestSupport
@testable import ModelIO
@testable import Transformer

/// `treerpo export --format gguf` into a source whose matrices are K-quants (as in the common
/// Q4_K_M downloads: Q4_K attention, Q5_K gate/up, Q6_K embeddings, value and down projections).
/// K-quant rows hold 256 values, wider than the committed fixtures, so the source is built here:
/// the llama fixture's metadata with hidden 256, intermediate 256, one layer, random weights.
@Suite struct GGUFExportKQuantTests {
    /// (GGUF name, GGUF dims [in, out] or [n], type)
    static let layout: [(String, [Int], GGMLType)] = [
        ("token_embd.weight", [256, 128], .q6_K),
        ("blk.0.attn_norm.weight", [256], .f32),
        ("blk.0.attn_q.weight", [256, 256], .q4_K),
        ("blk.0.attn_k.weight", [256, 128], .q4_K),
        ("blk.0.attn_v.weight", [256, 128], .q6_K),
        ("blk.0.attn_output.weight", [256, 256], .q4_K),
        ("blk.0.ffn_norm.weight", [256], .f32),
        ("blk.0.ffn_gate.weight", [256, 256], .q5_K),
        ("blk.0.ffn_up.weight", [256, 256], .q5_K),
        ("blk.0.ffn_down.weight", [256, 256], .q6_K),
        ("output_norm.weight", [256], .f32),
    ]

    static func kQuantSource(in folder: URL) throws -> URL {
        let fixture = try GGUFFile(contentsOf: GGUFImportTests.fixture("llama"))
        let sizes: [String: UInt32] = ["llama.embedding_length": 256, "llama.feed_forward_length": 256,
                                       "llama.block_count": 1, "llama.rope.dimension_count": 64]
        let metadata = fixture.metadata.map { entry in (key: entry.key, value: sizes[entry.key].map(GGUFValue.uint32) ?? entry.value) }
        var rng = TestRNG(seed: 14)
        let tensors = try layout.map { name, dims, type in
            let count = dims.reduce(1, *)
            let values = (0..<count).map { _ in dims.count == 1 ? 1 + 0.1 * rng.symmetric() : 0.05 * rng.symmetric() }
            let bytes = try values.withUnsafeBufferPointer { try GGUFQuantize.bytes($0, as: type) }
            return GGUFWriter.Tensor(name: name, dims: dims, type: type, bytes: Data(bytes))
        }
        let url = folder.appendingPathComponent("model.gguf")
        try GGUFWriter.encode(metadata: metadata, tensors: tensors).write(to: url)
        return url
    }

    @Test func trainedKQuantTensorsAreReQuantisedInTheirSourceType() throws {
        let folder = try ImportSupport.temporaryFolder("gguf-export-k")
        let source = try Self.kQuantSource(in: folder)
        let workspace = Workspace(root: folder.appendingPathComponent("ws"))
        defer { ExportSupport.remove(workspace) }
        _ = try Importer.run(.init(source: source, workspace: workspace))

        // Untrained: every tensor keeps its source bytes, the file is the source byte for byte.
        _ = try Exporter.run(.init(workspace: workspace, formats: [.gguf]))
        let untrained = try Data(contentsOf: workspace.export.appendingPathComponent("gguf/model.gguf"))
        #expect(untrained == (try Data(contentsOf: source)), "untrained K-quant export differs from the source")

        let trained = try ExportSupport.writeCheckpoint(workspace)
        _ = try Exporter.run(.init(workspace: workspace, formats: [.gguf], replace: true))
        let original = try GGUFFile(contentsOf: source)
        let exported = try GGUFFile(contentsOf: workspace.export.appendingPathComponent("gguf/model.gguf"))
        #expect(exported.data.prefix(exported.dataStart) == original.data.prefix(original.dataStart))
        let config = try Importer.load(.init(source: source)).config
        let map = try ImportMap.read(workspace.baseImportMap)
        // Round-trip RMS error / RMS(values) per type: the trained values read back from the export.
        var worst: [GGMLType: Double] = [:]
        for info in exported.tensors {
            let parameter = try #require(map.entries.first { e in ([e.source] + e.duplicates).contains { $0.name == info.name } }).parameter
            let (_, layout) = try #require(GGUFNames.huggingFace(info.name, family: config.family))
            let spec = trained.entry(parameter)!.spec
            let values = GGUFNames.fromHuggingFace(Array(UnsafeBufferPointer(start: trained[parameter], count: spec.count)),
                                                   hfShape: spec.shape, layout: layout, heads: GGUFNames.permutationHeads(parameter, config: config))
            let expected = try values.withUnsafeBufferPointer { try GGUFQuantize.bytes($0, as: info.type) }
            #expect(info.type == original.tensors.first { $0.name == info.name }?.type)
            #expect([UInt8](exported.bytes(info)) == expected, "\(info.name) (\(info.type)): not our re-quantisation of the trained values")
            #expect(exported.bytes(info) != original.bytes(info), "\(info.name) kept its source bytes although trained")
            let back = try exported.floats(info)
            var error = 0.0, energy = 0.0
            for i in 0..<values.count {
                error += Double(back[i] - values[i]) * Double(back[i] - values[i])
                energy += Double(values[i]) * Double(values[i])
            }
            worst[info.type] = max(worst[info.type] ?? 0, (error / energy).squareRoot())
        }
        // Measured here (worst tensor, uniform random weights plus the seeded training step):
        // Q4_K 0.0540, Q5_K 0.0281, Q6_K 0.0135 of RMS; the bounds leave about 10 %.
        let bound: [GGMLType: Double] = [.q4_K: 0.06, .q5_K: 0.031, .q6_K: 0.015, .f32: 0]
        for (type, error) in worst {
            #expect(error <= bound[type]!, "\(type): round-trip RMS error \(error) of RMS(values), bound \(bound[type]!)")
        }
        #expect(Set(worst.keys) == [.q4_K, .q5_K, .q6_K, .f32])
    }
}
