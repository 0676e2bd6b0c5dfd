import Foundation
import Testing
@testable import ModelFiles

@Suite("Hugging Face config.json")
struct HFConfigTests {
    func load(_ name: String) throws -> HFConfig { try HFConfig(contentsOf: Fixtures.url(name)) }

    @Test func llama() throws {
        let c = try load("config_llama.json")
        #expect(c.modelType == "llama")
        #expect(c.architectures == ["LlamaForCausalLM"])
        #expect(c.hiddenSize == 2048 && c.intermediateSize == 8192 && c.numHiddenLayers == 16)
        #expect(c.numAttentionHeads == 32 && c.numKeyValueHeads == 8 && c.headDim == 64)
        #expect(c.normEpsilon == 1e-5 && c.ropeTheta == 500000 && c.maxPositionEmbeddings == 131072)
        #expect(c.ropeScaling?["rope_type"] == .string("llama3"))
        #expect(c.eosTokenIds == [128001, 128008, 128009] && c.bosTokenId == 128000)
        #expect(c.tieWordEmbeddings == true && c.attentionBias == false && c.mlpBias == false)
        #expect(c.hiddenAct == "silu" && c.dtype == "bfloat16" && c.vocabSize == 128256)
    }

    @Test func qwen2() throws {
        let c = try load("config_qwen2.json")
        #expect(c.modelType == "qwen2" && c.eosTokenIds == [151645] && c.ropeTheta == 1_000_000)
        #expect(c.slidingWindow == 32768 && c.useSlidingWindow == false && c.ropeScaling == nil)
        #expect(c.normEpsilon == 1e-6 && c.headDim == nil)
    }

    @Test func gpt2Aliases() throws {
        let c = try load("config_gpt2.json")
        #expect(c.hiddenSize == 768 && c.numHiddenLayers == 12 && c.numAttentionHeads == 12)
        #expect(c.intermediateSize == nil, "n_inner is null: 4 * n_embd is the model's default")
        #expect(c.maxPositionEmbeddings == 1024 && c.normEpsilon == 1e-5 && c.hiddenAct == "gelu_new")
        #expect(c.eosTokenIds == [50256])
    }

    @Test("transformers 5: rope_parameters and dtype")
    func transformers5() throws {
        let c = try load("config_qwen3_tf5.json")
        #expect(c.ropeTheta == 1_000_000 && c.ropeParameters?["rope_type"] == .string("default"))
        #expect(c.dtype == "bfloat16" && c.padTokenId == nil && c.slidingWindow == nil && c.headDim == 128)
    }

    @Test("write back keeps unknown fields and each file's spelling")
    func roundTrip() throws {
        for name in ["config_llama.json", "config_qwen2.json", "config_gpt2.json", "config_qwen3_tf5.json"] {
            var c = try load(name)
            #expect(try HFConfig(data: c.encoded()) == c, "\(name) round trip")
            c.hiddenSize = 64
            c.ropeTheta = 10000
            c.eosTokenIds = [2]
            let object = try JSONDecoder().decode(JSONValue.self, from: c.encoded()).objectValue!
            let reread = try HFConfig(data: c.encoded())
            #expect(reread.hiddenSize == 64 && reread.ropeTheta == 10000 && reread.eosTokenIds == [2], "\(name)")
            #expect(object["n_embd"] == nil || name == "config_gpt2.json")
            #expect(object["hidden_size"] == nil || name != "config_gpt2.json", "GPT-2 keeps n_embd")
            if name == "config_qwen3_tf5.json" {
                #expect(object["rope_theta"] == nil, "tf5 keeps rope_theta inside rope_parameters")
                // JSONEncoder writes 10000.0 as `10000`; Python reads either as the same theta.
                #expect(object["rope_parameters"]?.objectValue?["rope_theta"]?.doubleValue == 10000)
            }
            if name == "config_llama.json" {
                #expect(object["pretraining_tp"] == .int(1), "unknown field kept")
                #expect(object["eos_token_id"] == .array([.int(2)]), "a list stays a list")
            }
        }
        // JSONEncoder round trip through Codable too.
        let c = try load("config_gpt2.json")
        #expect(try JSONDecoder().decode(HFConfig.self, from: JSONEncoder().encode(c)) == c)
    }

    @Test func badConfigs() {
        expectModelFileError(["config.json", "expected JSON"], kind: .malformed) { _ = try HFConfig(data: Data("{".utf8)) }
        expectModelFileError(["config.json", "JSON object"]) { _ = try HFConfig(data: Data("[1]".utf8)) }
        expectModelFileError(["c.json", "field 'hidden_size'", "an integer", "big"]) {
            _ = try HFConfig(data: Data(#"{"hidden_size": "big"}"#.utf8), file: "c.json")
        }
        expectModelFileError(["field 'eos_token_id'", "list of integers"]) {
            _ = try HFConfig(data: Data(#"{"eos_token_id": [1, "x"]}"#.utf8))
        }
        expectModelFileError(["field 'rope_parameters.rope_theta'", "a number"]) {
            _ = try HFConfig(data: Data(#"{"rope_parameters": {"rope_theta": "x"}}"#.utf8))
        }
        expectModelFileError(["field 'tie_word_embeddings'", "true or false"]) {
            _ = try HFConfig(data: Data(#"{"tie_word_embeddings": 1}"#.utf8))
        }
        expectModelFileError(["nope.json", "cannot read"], kind: .io) {
            _ = try HFConfig(contentsOf: Fixtures.url("nope.json"))
        }
    }
}
