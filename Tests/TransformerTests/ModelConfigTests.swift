import Foundation
import Testing
import ModelFiles
@testable import ModelIO
@testable import Transformer

@Suite struct ModelConfigTests {
    @Test(arguments: ["llama-hf", "qwen2-hf", "qwen3-hf", "gpt2-hf"])
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

/// Numbers in `config.json` far beyond any real small model are refused with the field, the value
/// and the limit before anything is sized by them (they used to trap on overflow in the parameter
/// count, abort allocating, or grow memory until the kernel killed the process), and settings that
/// make every logit NaN are refused instead of imported.
@Suite struct ConfigLimitTests {
    func config(_ json: String) throws -> ModelConfig {
        try ModelConfig(hf: HFConfig(data: Data(json.utf8)), file: "config.json")
    }

    static let llama = ["vocab_size": "16", "hidden_size": "8", "intermediate_size": "12",
                        "num_hidden_layers": "1", "num_attention_heads": "2"]
    static let gpt2 = ["vocab_size": "16", "n_embd": "8", "n_layer": "1", "n_head": "2", "n_positions": "32"]

    func json(_ type: String, _ fields: [String: String]) -> String {
        "{\"model_type\": \"\(type)\", " + fields.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ") + "}"
    }

    static let huge: [(type: String, field: String, value: String)] = [
        ("llama", "hidden_size", "1099511627776"),            // 2^40
        ("gpt2", "n_embd", "1099511627776"),
        ("gpt2", "n_inner", "1099511627776"),
        ("llama", "intermediate_size", "1099511627776"),
        ("llama", "num_hidden_layers", "2147483648"),         // 2^31
        ("llama", "vocab_size", "4611686018427387904"),       // 2^62
        ("llama", "max_position_embeddings", "1099511627776"),
        ("llama", "num_attention_heads", "1099511627776"),
        ("llama", "head_dim", "1099511627776"),
    ]

    @Test(arguments: 0..<huge.count)
    func sizeAboveItsLimitIsRefusedNamingFieldValueAndLimit(index: Int) throws {
        let c = Self.huge[index]
        var fields = c.type == "gpt2" ? Self.gpt2 : Self.llama
        fields[c.field] = c.value
        let error = #expect(throws: ModelConfigError.self) { try config(json(c.type, fields)) }
        #expect(error?.field == c.field, "\(c)")
        #expect(error?.message.contains(c.value) == true && error?.message.contains("at most") == true, "\(error.map(String.init(describing:)) ?? "")")
    }

    @Test func parameterCountAboveTheLimitIsRefused() throws {
        // Every size within its own limit, the total far beyond: 65536 x 262144 x 3 x 1024 floats.
        let fields = ["vocab_size": "16", "hidden_size": "65536", "intermediate_size": "262144",
                      "num_hidden_layers": "1024", "num_attention_heads": "512"]
        let error = #expect(throws: ModelConfigError.self) { try config(json("llama", fields)) }
        #expect(error?.message.contains("parameters") == true, "\(error.map(String.init(describing:)) ?? "")")
    }

    static let nonsense: [(field: String, value: String)] = [
        ("rms_norm_eps", "-1"), ("rms_norm_eps", "0"), ("rms_norm_eps", "1e-60"),
        ("rope_theta", "-1e+30"), ("rope_theta", "0"), ("rope_theta", "1e+300"),
    ]

    @Test(arguments: 0..<nonsense.count)
    func nonPositiveOrNonFiniteSettingsAreRefused(index: Int) throws {
        let c = Self.nonsense[index]
        var fields = Self.llama
        fields[c.field] = c.value
        let error = #expect(throws: ModelConfigError.self) { try config(json("llama", fields)) }
        #expect(error?.field == c.field, "\(c)")
        #expect(error?.message.contains(c.value) == true, "\(error.map(String.init(describing:)) ?? "")")
    }

    @Test func layerNormEpsilonOfGPT2IsChecked() throws {
        var fields = Self.gpt2
        fields["layer_norm_epsilon"] = "-0.5"
        let error = #expect(throws: ModelConfigError.self) { try config(json("gpt2", fields)) }
        #expect(error?.field == "layer_norm_epsilon")
    }
}
