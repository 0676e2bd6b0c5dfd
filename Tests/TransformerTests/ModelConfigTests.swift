import Foundation
import Testing
import ModelFiles
@testable import Transformer

@Suite struct ModelConfigTests {
    @Test(arguments: ["llama-hf", "qwen2-hf", "gpt2-hf"])
    func fixtureCheckpointsLoadWithEveryParameterAccountedFor(name: String) throws {
        let (config, parameters) = try CheckpointLoading.loadFolder(FixtureModels.folder(name))
        #expect(config.family.rawValue == name.replacingOccurrences(of: "-hf", with: ""))
        // Every parameter was filled from the file (random weights are never all zero).
        for e in parameters.entries {
            let values = UnsafeBufferPointer(start: parameters.base + e.offset, count: e.spec.count)
            #expect(values.contains { $0 != 0 }, "\(e.spec.name) left empty; \(FixtureModels.regenerate)")
        }
    }

    func config(_ json: String) throws -> ModelConfig {
        try ModelConfig(hf: HFConfig(data: Data(json.utf8)), file: "config.json")
    }

    static let llamaBase = #""model_type": "llama", "vocab_size": 16, "hidden_size": 8, "intermediate_size": 12, "num_hidden_layers": 1, "num_attention_heads": 2"#

    @Test func unsupportedSettingsAreRefusedWithTheFieldNamed() throws {
        let cases: [(String, String)] = [
            (#"{"model_type": "mistral", "vocab_size": 1}"#, "model_type"),
            ("{\(Self.llamaBase), \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8}}", "rope_scaling.rope_type"),
            ("{\(Self.llamaBase), \"rope_parameters\": {\"rope_type\": \"yarn\", \"rope_theta\": 10000}}", "rope_parameters.rope_type"),
            ("{\(Self.llamaBase), \"hidden_act\": \"gelu\"}", "hidden_act"),
            ("{\(Self.llamaBase), \"num_key_value_heads\": 3}", "num_key_value_heads"),
            (#"{"model_type": "qwen2", "vocab_size": 16, "hidden_size": 8, "intermediate_size": 12, "num_hidden_layers": 1, "num_attention_heads": 2, "use_sliding_window": true}"#, "use_sliding_window"),
            (#"{"model_type": "llama", "hidden_size": 8}"#, "vocab_size"),
        ]
        for (json, field) in cases {
            let error = #expect(throws: ModelConfigError.self) { try config(json) }
            #expect(error?.field == field, "\(json)")
        }
    }

    @Test func defaultsFollowTransformers() throws {
        let c = try config("{\(Self.llamaBase)}")
        #expect(c.kvHeads == 2 && c.headDim == 4 && c.ropeTheta == 10_000 && !c.tiedEmbeddings && !c.qkvBias)
        let q = try config(#"{"model_type": "qwen2", "vocab_size": 16, "hidden_size": 8, "intermediate_size": 12, "num_hidden_layers": 1, "num_attention_heads": 2, "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0}}"#)
        #expect(q.qkvBias && !q.outputBias && q.ropeTheta == 1_000_000)
        let g = try config(#"{"model_type": "gpt2", "vocab_size": 16, "n_embd": 8, "n_layer": 1, "n_head": 2, "n_positions": 32}"#)
        #expect(g.intermediateSize == 32 && g.tiedEmbeddings && g.activation == .geluTanh)
    }
}
