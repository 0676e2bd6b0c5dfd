import Foundation
import Testing
import ModelFiles
@testable import ModelIO
@testable import Transformer

/// Bad input is refused with the file, the tensor / parameter / field, and expected vs found
/// named, and the workspace (which already holds an imported model) is left exactly as it was.
/// The bad models are fixtures edited here (python tools/make_onnx_fixtures.py makes the originals).
@Suite struct ImportBadInputTests {
    /// A copy of `fixture` whose model.onnx went through `edit`.
    func edited(_ fixture: String, _ edit: (inout Onnx_ModelProto) -> Void) throws -> URL {
        let folder = try ImportSupport.copyFixture(fixture)
        let url = folder.appendingPathComponent("model.onnx")
        var model = try ONNXModel(contentsOf: url)
        edit(&model.proto)
        try model.write(to: url)
        return folder
    }

    /// Runs an import over a workspace holding a model, expects it refused with every string of
    /// `expected` in the message, and the workspace untouched.
    @discardableResult
    func expectRefused(_ source: URL, config: URL? = nil, _ expected: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> Error? {
        let root = try ImportSupport.temporaryFolder("ws")
        defer { try? FileManager.default.removeItem(at: root) }
        let workspace = Workspace(root: root)
        _ = try Importer.run(.init(source: FixtureModels.folder("llama-hf"), workspace: workspace))
        let before = ImportSupport.snapshot(root)
        var caught: Error? = nil
        do {
            _ = try Importer.run(.init(source: source, config: config, workspace: workspace, replace: true))
            Issue.record("expected \(source.path) to be refused", sourceLocation: sourceLocation)
        } catch {
            caught = error
            let text = "\(error)"
            for piece in expected {
                #expect(text.contains(piece), "message lacks '\(piece)': \(text)", sourceLocation: sourceLocation)
            }
        }
        #expect(ImportSupport.snapshot(root) == before, "workspace changed by a failed import", sourceLocation: sourceLocation)
        return caught
    }

    func model(_ folder: URL) -> URL { folder.appendingPathComponent("model.onnx") }

    func floatTensor(_ name: String, _ dims: [Int], seed: Float = 0.25) -> Onnx_TensorProto {
        var t = Onnx_TensorProto()
        t.name = name
        t.dims = dims.map(Int64.init)
        t.dataType = ONNXDataType.float.rawValue
        let values = (0..<dims.reduce(1, *)).map { Float($0 % 7) * seed - 0.5 }
        t.rawData = values.withUnsafeBytes { Data($0) }
        return t
    }

    @Test func truncatedFile() throws {
        let folder = try ImportSupport.copyFixture("llama-legacy-folded")
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = try Data(contentsOf: model(folder))
        try data.prefix(data.count * 6 / 10).write(to: model(folder))
        try expectRefused(model(folder), ["model.onnx", "expected a protobuf ONNX ModelProto of \(data.count * 6 / 10) bytes"])
    }

    @Test func notProtobuf() throws {
        let folder = try ImportSupport.copyFixture("llama-legacy-folded")
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data("this is not an ONNX model\n".utf8).write(to: model(folder))
        try expectRefused(model(folder), ["model.onnx", "expected a protobuf ONNX ModelProto"])
    }

    @Test func unsupportedArchitecture() throws {
        let folder = try ImportSupport.copyFixture("qwen2-legacy-folded")
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("config.json")
        let text = try String(contentsOf: url, encoding: .utf8).replacingOccurrences(of: "\"qwen2\"", with: "\"mistral\"")
        try text.write(to: url, atomically: true, encoding: .utf8)
        try expectRefused(model(folder), ["config.json", "field 'model_type'", "expected one of llama, qwen2, qwen3, gpt2", "found \"mistral\""])
    }

    @Test func missingParameter() throws {
        // onnx::MatMul_719 is layer 0's q_proj ([in, out], anonymous; reference.json).
        let folder = try edited("qwen2-legacy-folded") { $0.graph.initializer.removeAll { $0.name == "onnx::MatMul_719" } }
        defer { try? FileManager.default.removeItem(at: folder) }
        try expectRefused(model(folder), ["model.onnx", "parameter 'model.layers.0.self_attn.q_proj.weight'", "missing",
                                          "module 'model.layers.0.self_attn.q_proj'", "shape [64, 64]", "found none"])
    }

    @Test func extraParameter() throws {
        let folder = try edited("qwen2-legacy-folded") {
            $0.graph.initializer.append(floatTensor("model.layers.0.mlp.extra_proj.weight", [64, 96]))
        }
        defer { try? FileManager.default.removeItem(at: folder) }
        try expectRefused(model(folder), ["model.onnx", "tensor 'model.layers.0.mlp.extra_proj.weight'", "FLOAT [64, 96] mapping to none"])
    }

    @Test func misshapedAnonymousParameter() throws {
        // Same byte count, other dims: [64, 64] -> [32, 128].
        let folder = try edited("qwen2-legacy-folded") { proto in
            let i = proto.graph.initializer.firstIndex { $0.name == "onnx::MatMul_719" }!
            proto.graph.initializer[i].dims = [32, 128]
        }
        defer { try? FileManager.default.removeItem(at: folder) }
        try expectRefused(model(folder), ["parameter 'model.layers.0.self_attn.q_proj.weight'", "expected shape [64, 64]",
                                          "tensor 'onnx::MatMul_719' [32, 128] stored transposed, i.e. [128, 32]",
                                          "/model/layers.0/self_attn/q_proj/MatMul"])
    }

    @Test func misshapedNamedParameter() throws {
        let folder = try edited("qwen2-legacy-folded") { proto in
            let i = proto.graph.initializer.firstIndex { $0.name == "model.norm.weight" }!
            proto.graph.initializer[i].dims = [32]
            proto.graph.initializer[i].rawData = proto.graph.initializer[i].rawData.prefix(128)
        }
        defer { try? FileManager.default.removeItem(at: folder) }
        try expectRefused(model(folder), ["parameter 'model.norm.weight'", "expected shape [64]", "tensor 'model.norm.weight' [32]", "initializer name"])
    }

    @Test func twoCandidatesForOneParameter() throws {
        // A named [out, in] q_proj beside the anonymous [in, out] one the graph uses, with other values.
        let folder = try edited("qwen2-legacy-folded") {
            $0.graph.initializer.append(floatTensor("model.layers.0.self_attn.q_proj.weight", [64, 64]))
        }
        defer { try? FileManager.default.removeItem(at: folder) }
        try expectRefused(model(folder), ["parameter 'model.layers.0.self_attn.q_proj.weight'", "two candidates with different values",
                                          "'model.layers.0.self_attn.q_proj.weight' (initializer name)", "'onnx::MatMul_719' transposed"])
    }

    @Test func rawDataShorterThanDims() throws {
        let folder = try edited("qwen2-legacy-folded") { proto in
            let i = proto.graph.initializer.firstIndex { $0.name == "onnx::MatMul_719" }!
            proto.graph.initializer[i].rawData = proto.graph.initializer[i].rawData.prefix(100)
        }
        defer { try? FileManager.default.removeItem(at: folder) }
        try expectRefused(model(folder), ["tensor 'onnx::MatMul_719'", "expected 16384 bytes of raw_data for FLOAT [64, 64], found 100"])
    }

    @Test func missingExternalDataFile() throws {
        let folder = try ImportSupport.copyFixture("qwen2-external-data")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.removeItem(at: folder.appendingPathComponent("model.onnx.data"))
        try expectRefused(model(folder), ["model.onnx", "external_data 'location'", "expected the external data file 'model.onnx.data'", "found none"])
    }

    @Test func externalDataOutsideTheModelFolder() throws {
        let folder = try edited("qwen2-external-data") { proto in
            for i in proto.graph.initializer.indices {
                for j in proto.graph.initializer[i].externalData.indices where proto.graph.initializer[i].externalData[j].key == "location" {
                    proto.graph.initializer[i].externalData[j].value = "../model.onnx.data"
                }
            }
        }
        defer { try? FileManager.default.removeItem(at: folder) }
        try expectRefused(model(folder), ["expected a path inside", "found '../model.onnx.data'"])
    }

    @Test func externalDataLengthBeyondTheFile() throws {
        let folder = try edited("qwen2-external-data") { proto in
            for j in proto.graph.initializer[0].externalData.indices where proto.graph.initializer[0].externalData[j].key == "offset" {
                proto.graph.initializer[0].externalData[j].value = "100000000"
            }
        }
        defer { try? FileManager.default.removeItem(at: folder) }
        try expectRefused(model(folder), ["external_data", "expected offset 100000000", "within 'model.onnx.data' of 313600 bytes"])
    }

    @Test func quantisedWeightsAreRefused() throws {
        let nbits = try edited("qwen2-legacy-folded") { proto in
            var node = Onnx_NodeProto()
            node.opType = "MatMulNBits"
            node.domain = "com.microsoft"
            node.name = "/model/layers.0/mlp/up_proj/MatMulNBits"
            node.input = ["x", "w_q", "scales"]
            node.output = ["y"]
            proto.graph.node.append(node)
        }
        defer { try? FileManager.default.removeItem(at: nbits) }
        try expectRefused(model(nbits), ["node '/model/layers.0/mlp/up_proj/MatMulNBits' (MatMulNBits)", "expected a float model, found a quantised one"])

        let int8 = try edited("qwen2-legacy-folded") { proto in
            let i = proto.graph.initializer.firstIndex { $0.name == "onnx::MatMul_719" }!
            proto.graph.initializer[i].dataType = ONNXDataType.int8.rawValue
            proto.graph.initializer[i].rawData = Data(repeating: 1, count: 64 * 64)
        }
        defer { try? FileManager.default.removeItem(at: int8) }
        try expectRefused(model(int8), ["tensor 'onnx::MatMul_719'", "expected FLOAT, FLOAT16 or BFLOAT16 weights, found INT8 [64, 64]"])
    }

    @Test func genaiBuilderGraphsAreRefused() throws {
        let gqa = try edited("qwen2-legacy-folded") { proto in
            var node = Onnx_NodeProto()
            node.opType = "GroupQueryAttention"
            node.domain = "com.microsoft"
            node.name = "/model/layers.0/attn/GroupQueryAttention"
            proto.graph.node.append(node)
        }
        defer { try? FileManager.default.removeItem(at: gqa) }
        try expectRefused(model(gqa), ["(GroupQueryAttention)", "onnxruntime-genai model-builder graph"])

        let qkv = try edited("qwen2-legacy-folded") {
            $0.graph.initializer.append(floatTensor("model.layers.0.attn.qkv_proj.MatMul.weight", [64, 128]))
        }
        defer { try? FileManager.default.removeItem(at: qkv) }
        try expectRefused(model(qkv), ["tensor 'model.layers.0.attn.qkv_proj.MatMul.weight'", "fused qkv_proj"])
    }

    @Test func safetensorsWithoutAConfig() throws {
        let folder = try ImportSupport.temporaryFolder("st")
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("weights.safetensors")
        try FileManager.default.copyItem(at: FixtureModels.folder("qwen2-hf").appendingPathComponent("model.safetensors"), to: file)
        try expectRefused(file, ["weights.safetensors", "expected config.json beside the weights or given with the import, found neither"])
    }

    @Test func safetensorsThatDoNotFitTheConfig() throws {
        // The llama weights against the qwen2 config: q/k/v biases missing.
        let file = FixtureModels.folder("llama-hf").appendingPathComponent("model.safetensors")
        try expectRefused(file, config: FixtureModels.folder("qwen2-hf").appendingPathComponent("config.json"),
                          ["llama-hf", "parameter '", "expected shape"])
    }

    @Test func nothingAtThePath() throws {
        try expectRefused(URL(fileURLWithPath: "/nonexistent/model.onnx"), ["/nonexistent/model.onnx", "found nothing at this path"])
    }

    @Test func configInferenceNamesTheFieldItCannotFind() throws {
        // Without the attention Reshape constants or inv_freq a GPT-2 graph does not tell the heads.
        let folder = try edited("gpt2-legacy-folded") { proto in
            proto.graph.node.removeAll { $0.opType == "Reshape" && $0.name.contains("/attn/Reshape") }
        }
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.removeItem(at: folder.appendingPathComponent("config.json"))
        try expectRefused(model(folder), ["model.onnx", "field 'num_attention_heads'", "cannot infer it from the graph", "give the import a config.json"])
    }
}

/// Exports of a wrapper module (`forward` calling the HF model held as `self.m`) prefix every
/// name and module path; they import like the plain export.
@Suite struct ImportWrapperPrefixTests {
    @Test func wrapperPrefixedNamesAndNodeNamesImport() throws {
        let folder = try ImportSupport.copyFixture("qwen2-legacy-folded")
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("model.onnx")
        var model = try ONNXModel(contentsOf: url)
        var renamed: [String: String] = [:]
        for i in model.proto.graph.initializer.indices where model.proto.graph.initializer[i].name.hasPrefix("model.") {
            renamed[model.proto.graph.initializer[i].name] = "m." + model.proto.graph.initializer[i].name
            model.proto.graph.initializer[i].name = "m." + model.proto.graph.initializer[i].name
        }
        for i in model.proto.graph.node.indices {
            model.proto.graph.node[i].input = model.proto.graph.node[i].input.map { renamed[$0] ?? $0 }
            if model.proto.graph.node[i].name.hasPrefix("/") { model.proto.graph.node[i].name = "/m" + model.proto.graph.node[i].name }
        }
        try model.write(to: url)
        let result = try ONNXImport.load(try ONNXModel(contentsOf: url), config: try ImportSupport.config(of: "qwen2-legacy-folded"), directory: folder)
        let (_, reference) = try CheckpointLoading.loadFolder(FixtureModels.folder("qwen2-hf"))
        for e in reference.entries {
            let a = UnsafeBufferPointer(start: result.parameters[e.spec.name], count: e.spec.count)
            #expect(a.elementsEqual(UnsafeBufferPointer(start: reference.base + e.offset, count: e.spec.count)), "\(e.spec.name)")
        }
        #expect(result.entries.first { $0.parameter == "model.norm.weight" }?.source.name == "m.model.norm.weight")
        // Config inference sees through the prefix too.
        let inferred = try ConfigInference.infer(try ONNXModel(contentsOf: url), directory: folder)
        #expect(inferred.config.layers == 2 && inferred.config.family == .qwen2)
    }
}
