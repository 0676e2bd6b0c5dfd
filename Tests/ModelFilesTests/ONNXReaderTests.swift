import Foundation
import Testing
@testable import ModelFiles

@Suite("ONNX reader")
struct ONNXReaderTests {
    @Test("every initializer of tiny.onnx matches numpy's values in every storage form")
    func initializersMatchReference() throws {
        let model = try ONNXModel(contentsOf: Fixtures.url("tiny.onnx"))
        let expected = try Fixtures.expected()["onnx"]!.objectValue!
        let initializers = expected["initializers"]!.objectValue!
        let order = expected["order"]!.arrayValue!.map { $0.stringValue! }
        #expect(model.initializers.map(\.name) == order, "initializer order; \(Fixtures.regenerate)")
        for tensor in model.initializers {
            let reference = try #require(initializers[tensor.name]?.objectValue, "\(tensor.name) not in expected.json; \(Fixtures.regenerate)")
            #expect(tensor.dims == Fixtures.ints(reference["dims"]), "dims of \(tensor.name)")
            #expect(Int64(tensor.dataType.rawValue) == reference["data_type"]?.intValue, "data type of \(tensor.name)")
            if let floats = Fixtures.floats(reference["floats"]) {
                #expect(try tensor.floats() == floats, "values of \(tensor.name); \(Fixtures.regenerate)")
            } else {
                #expect(try tensor.int64s() == Fixtures.ints(reference["ints"]), "values of \(tensor.name); \(Fixtures.regenerate)")
            }
        }
        let w = try model.initializer(named: "w_raw")!.tensor()
        #expect(w.shape == [2, 3])
        #expect(try model.initializer(named: "scalar_raw")!.tensor().shape == [])
        #expect(try model.initializersByName().count == order.count)
    }

    @Test("Constant nodes: value tensor, value_float, value_int, value_floats, value_ints")
    func constants() throws {
        let model = try ONNXModel(contentsOf: Fixtures.url("tiny.onnx"))
        let expected = try Fixtures.expected()["onnx"]!.objectValue!["constants"]!.objectValue!
        var seen = 0
        for node in model.nodes {
            guard let value = try node.constantValue() else { continue }
            seen += 1
            let reference = try #require(expected[node.outputs[0]]?.objectValue)
            #expect(value.dims == Fixtures.ints(reference["dims"]), "dims of \(node.name)")
            if let floats = Fixtures.floats(reference["floats"]) {
                #expect(try value.floats() == floats, "\(node.name)")
            } else {
                #expect(try value.int64s() == Fixtures.ints(reference["ints"]), "\(node.name)")
            }
        }
        #expect(seen == 5, "five Constant nodes; \(Fixtures.regenerate)")
    }

    @Test("node attributes by name, metadata_props and opset imports")
    func attributesAndMetadata() throws {
        let model = try ONNXModel(contentsOf: Fixtures.url("tiny.onnx"))
        let gemm = try #require(model.nodes.first { $0.opType == "Gemm" })
        #expect(try gemm.float("alpha") == 0.5)
        #expect(try gemm.int("transB") == 0)
        #expect(try gemm.float("beta") == nil)
        #expect(gemm.metadata["pkg.torch.onnx.name_scopes"] == "['', 'layers.0', 'mlp']")
        #expect(gemm.metadata["namespace"] == "layers.0.mlp")
        #expect(model.opsetImports == ["": 18, "com.microsoft": 1])
        expectModelFileError(["tiny.onnx", "node 'gemm'", "attribute 'alpha'", "expected type"]) {
            _ = try gemm.int("alpha")
        }
    }

    @Test("external data: values match, one mapping per file")
    func externalData() throws {
        let model = try ONNXModel(contentsOf: Fixtures.url("external.onnx"))
        let expected = try Fixtures.expected()["external"]!.objectValue!
        let a = try #require(model.initializer(named: "ext_a"))
        #expect(a.isExternal)
        #expect(try a.floats() == Fixtures.floats(expected["ext_a"]!.objectValue!["floats"]))
        #expect(try model.initializer(named: "ext_b")!.int64s() == Fixtures.ints(expected["ext_b"]!.objectValue!["ints"]))
        _ = try a.floats()
        #expect(model.externalFiles.mappedFileCount == 1, "external.bin is mapped once for all tensors")
    }

    @Test("round trip: bytes unchanged, unknown fields kept through an edit")
    func roundTrip() throws {
        let original = try Fixtures.data("tiny.onnx")
        var model = try ONNXModel(contentsOf: Fixtures.url("tiny.onnx"))
        #expect(!model.proto.unknownFields.data.isEmpty, "ModelProto.configuration (26) is unknown to our .proto")
        #expect(!model.proto.graph.unknownFields.data.isEmpty, "quantization_annotation (14) is unknown")
        #expect(try model.serializedData() == original, "Swift re-serialization equals Python's bytes")

        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        model.proto.producerName = "treerpo"
        let out = directory.appendingPathComponent("edited.onnx")
        try model.write(to: out)
        let reread = try ONNXModel(contentsOf: out)
        #expect(reread.proto.producerName == "treerpo")
        #expect(reread.proto.unknownFields == model.proto.unknownFields)
        #expect(reread.proto.graph == model.proto.graph)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["edited.onnx"], "no temporary left")
    }
}
