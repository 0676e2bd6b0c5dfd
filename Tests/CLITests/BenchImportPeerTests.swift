import Testing
@testable import treerpo

/// `treerpo bench import` names the Python peer that actually ran: transformers'
/// from_pretrained(gguf_file=) for a GGUF (its table once said "python onnx.load" there too).
@Suite struct BenchImportPeerTests {
    @Test func theGGUFPeerIsLabelledTransformers() throws {
        let gguf = try BenchImport.parse(["--model", "models/SmolLM2.Q4_1.GGUF"])
        #expect(gguf.isGGUF && gguf.peerLabel == "transformers from_pretrained(gguf_file=)")
        #expect(!gguf.peerLabel.contains("onnx"))
        let onnx = try BenchImport.parse(["--model", "model.onnx"])
        #expect(!onnx.isGGUF && onnx.peerLabel == "python onnx.load + numpy float32")
    }
}
