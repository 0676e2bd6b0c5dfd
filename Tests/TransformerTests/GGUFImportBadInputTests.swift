import Foundation
import Testing
import ModelFiles
@testable import ModelIO
@testable import Transformer

/// A bad GGUF is refused naming the file and the field or tensor, and the workspace (which
/// already holds an imported model) is left exactly as it was. The bad files are the llama GGUF
/// fixture (tools/make_gguf_model_fixtures.py) edited and re-encoded here.
@Suite struct GGUFImportBadInputTests {
    typealias Metadata = [(key: String, value: GGUFValue)]

    /// The llama fixture with `edit` applied to its metadata and tensors, written to a new file.
    func edited(_ name: String = "bad.gguf", _ edit: (inout Metadata, inout [GGUFWriter.Tensor]) -> Void) throws -> URL {
        let source = try GGUFFile(contentsOf: GGUFImportTests.fixture("llama"))
        var metadata = source.metadata
        var tensors = source.tensors.map { GGUFWriter.Tensor(name: $0.name, dims: $0.dims, type: $0.type, bytes: source.bytes($0)) }
        edit(&metadata, &tensors)
        let url = try ImportSupport.temporaryFolder("gguf").appendingPathComponent(name)
        try GGUFWriter.encode(metadata: metadata, tensors: tensors).write(to: url)
        return url
    }

    func expectRefused(_ source: URL, _ expected: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let root = try ImportSupport.temporaryFolder("ws")
        defer {
            try? FileManager.default.removeItem(at: root)
            try? FileManager.default.removeItem(at: source.deletingLastPathComponent())
        }
        let workspace = Workspace(root: root)
        _ = try Importer.run(.init(source: FixtureModels.folder("llama-hf"), workspace: workspace))
        let before = ImportSupport.snapshot(root)
        do {
            _ = try Importer.run(.init(source: source, workspace: workspace, replace: true))
            Issue.record("expected \(source.lastPathComponent) to be refused", sourceLocation: sourceLocation)
        } catch {
            for piece in expected {
                #expect("\(error)".contains(piece), "message lacks '\(piece)': \(error)", sourceLocation: sourceLocation)
            }
        }
        #expect(ImportSupport.snapshot(root) == before, "workspace changed by a failed import", sourceLocation: sourceLocation)
    }

    @Test func reEncodingTheFixtureImportsUnchanged() throws {
        // The edits below start from a re-encoding: it must itself import to the same weights.
        let url = try edited { _, _ in }
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        #expect(try Data(contentsOf: url) == Data(contentsOf: GGUFImportTests.fixture("llama")))
    }

    @Test func truncated() throws {
        let folder = try ImportSupport.temporaryFolder("gguf")
        let url = folder.appendingPathComponent("cut.gguf")
        let data = try Data(contentsOf: GGUFImportTests.fixture("llama"))
        try data.prefix(data.count * 6 / 10).write(to: url)
        try expectRefused(url, ["cut.gguf", "field 'offset'", "data area"])
        let folder2 = try ImportSupport.temporaryFolder("gguf")
        try data.prefix(300).write(to: folder2.appendingPathComponent("cut.gguf"))
        try expectRefused(folder2.appendingPathComponent("cut.gguf"), ["cut.gguf", "field 'tensor_count'", "found 20"])
    }

    @Test func missingConfigFields() throws {
        for key in ["llama.block_count", "llama.feed_forward_length", "llama.attention.head_count", "llama.attention.layer_norm_rms_epsilon"] {
            try expectRefused(try edited { m, _ in m.removeAll { $0.key == key } }, ["bad.gguf", "field '\(key)'", "found none"])
        }
        try expectRefused(try edited { m, _ in
            m[m.firstIndex { $0.key == "general.architecture" }!].value = .string("mamba")
        }, ["field 'general.architecture'", "llama, qwen2, qwen3, gpt2", "\"mamba\""])
        try expectRefused(try edited { m, _ in m.append((key: "llama.rope.scaling.type", value: .string("yarn"))) },
                          ["field 'llama.rope.scaling.type'", "\"yarn\""])
    }

    @Test func unsupportedTensorType() throws {
        try expectRefused(try edited { _, t in
            let i = t.firstIndex { $0.name == "blk.0.ffn_up.weight" }!
            t[i].type = .iq4_NL
            t[i].bytes = Data(count: t[i].dims.reduce(1, *) / 32 * 18)
        }, ["bad.gguf", "tensor 'blk.0.ffn_up.weight'", "IQ4_NL", "Q4_K"])
    }

    @Test func tensorsThatDoNotFit() throws {
        try expectRefused(try edited { _, t in t.removeAll { $0.name == "blk.1.ffn_down.weight" } },
                          ["parameter 'model.layers.1.mlp.down_proj.weight'", "missing"])
        try expectRefused(try edited { _, t in
            t.append(GGUFWriter.Tensor(name: "rope_freqs.weight", dims: [8], type: .f32, bytes: Data(count: 32)))
        }, ["tensor 'rope_freqs.weight'", "not a tensor of a llama model"])
        try expectRefused(try edited { _, t in
            let i = t.firstIndex { $0.name == "blk.0.attn_v.weight" }!
            t[i].dims = [64, 16]
            t[i].bytes = t[i].bytes.prefix(64 * 16 / 32 * 34)
        }, ["parameter 'model.layers.0.self_attn.v_proj.weight'", "blk.0.attn_v.weight", "shape"])
    }

    @Test func tokenizerMetadata() throws {
        func withTokenizer(_ model: String, pre: String = "gpt2") -> URL? {
            try? edited { m, _ in
                m.append((key: "tokenizer.ggml.model", value: .string(model)))
                m.append((key: "tokenizer.ggml.pre", value: .string(pre)))
                m.append((key: "tokenizer.ggml.tokens", value: .array(8, (0..<128).map { .string("t\($0)") })))
                m.append((key: "tokenizer.ggml.merges", value: .array(8, [.string("t 1")])))
            }
        }
        try expectRefused(try #require(withTokenizer("llama")), ["bad.gguf", "field 'tokenizer.ggml.model'", "\"gpt2\"", "\"llama\""])
        try expectRefused(try #require(withTokenizer("gpt2", pre: "falcon")), ["field 'tokenizer.ggml.pre'", "\"falcon\"", "smollm"])
    }
}
