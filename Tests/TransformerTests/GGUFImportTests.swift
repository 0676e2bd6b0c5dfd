import Foundation
import Testing
import ModelFiles
import Tensors
@testable import ModelIO
@testable import Transformer

/// GGUF fixtures (tiny random llama with llama.cpp's Q/K permutation and Q8_0 weights, qwen2 F16,
/// gpt2 F16 with transposed Conv1D weights and a written-again tied head), imported by us and run
/// by our forward, give the logits and greedy ids of transformers'
/// `from_pretrained(folder, gguf_file="model.gguf")` (reference.json, made by
/// tools/make_gguf_model_fixtures.py).
@Suite struct GGUFImportTests {
    static let families = ["llama", "qwen2", "qwen3", "gpt2"]
    static let regenerate = "regenerate with: .venv-tools/bin/python tools/make_gguf_model_fixtures.py"

    static func fixture(_ family: String) -> URL { FixtureModels.folder("\(family)-gguf").appendingPathComponent("model.gguf") }

    @Test(arguments: families)
    func logitsAndGreedyIdsEqualTransformersGGUFLoading(family: String) throws {
        let ref = try ReferenceData.json("\(family)-gguf", "reference.json")
        let loaded = try Importer.load(Importer.Request(source: Self.fixture(family)))
        #expect(loaded.config.family.rawValue == family)
        let model = try TransformerModel(config: loaded.config, parameters: loaded.parameters)
        let ids = ReferenceData.ints(ref["input_ids"])
        let flat = (ref["logits"] as! [Any]).map { Float(($0 as! NSNumber).doubleValue) }
        let vocab = model.config.vocabSize
        #expect(flat.count == ids.count * ids[0].count * vocab, "\(Self.regenerate)")
        let (tokens, positions, mask) = try ForwardTests.packed(ids)
        let acts = Activations(config: model.config, capacity: tokens.count)
        try model.forward(tokens: tokens, positions: positions, mask: mask, activations: acts)
        var cmp = LogitComparison()
        for r in 0..<tokens.count { cmp.add(acts.logits + r * vocab, Array(flat[(r * vocab)..<((r + 1) * vocab)])) }
        #expect(cmp.passes, "\(cmp.message("\(family) GGUF imported vs transformers' GGUF loading"))")

        let greedy = ref["greedy"] as! [String: Any]
        var sequence = ReferenceData.ints([greedy["prompt"]!])[0]
        let expected = ReferenceData.ints([greedy["ids"]!])[0]
        for _ in expected {
            let (t, p, m) = try ForwardTests.packed([sequence])
            let a = Activations(config: model.config, capacity: t.count)
            try model.forward(tokens: t, positions: p, mask: m, activations: a)
            sequence.append(argmax(a.logits + (t.count - 1) * vocab, vocab))
        }
        #expect(Array(sequence.suffix(expected.count)) == expected, "\(family): greedy ids differ from transformers'")
    }

    @Test func importMapRecordsTheGGUFSource() throws {
        let url = Self.fixture("llama")
        let loaded = try Importer.load(Importer.Request(source: url))
        let gguf = try GGUFFile(contentsOf: url)
        let map = loaded.map
        #expect(map.source.format == "gguf")
        #expect(map.source.sha256 == (try SHA256.hex(file: url)).0 && map.source.bytes == gguf.data.count)
        let q = try #require(map.entry("model.layers.1.self_attn.q_proj.weight"))
        let info = try gguf.tensor("blk.1.attn_q.weight")
        #expect(q.source.name == "blk.1.attn_q.weight" && q.source.dtype == "Q8_0")
        #expect(q.source.storage.kind == "gguf" && q.source.storage.offset == gguf.dataStart + info.offset
                && q.source.storage.length == info.byteCount)
        #expect(q.source.clues.contains("rotary permutation undone (4 heads)"))
        let k = try #require(map.entry("model.layers.0.self_attn.k_proj.weight"))
        #expect(k.source.clues.contains("rotary permutation undone (2 heads)"))
        #expect(loaded.sourceDType.contains("Q8_0") && loaded.sourceDType.contains("F32"))
        // qwen2 is not permuted; gpt2's written-again head is recorded as the embedding's copy.
        let qwen = try Importer.load(Importer.Request(source: Self.fixture("qwen2")))
        #expect(qwen.map.entries.allSatisfy { $0.source.clues == ["llama.cpp name"] })
        let gpt2 = try Importer.load(Importer.Request(source: Self.fixture("gpt2")))
        let wte = try #require(gpt2.map.entry("transformer.wte.weight"))
        #expect(wte.duplicates.map(\.name) == ["output.weight"])
        #expect(try #require(gpt2.map.entry("transformer.h.0.attn.c_attn.weight")).source.transposed)
    }

    @Test func permutationRoundTrips() {
        let values = (0..<(6 * 8 * 3)).map(Float.init)
        let stored = GGUFNames.fromHuggingFace(values, hfShape: [48, 3], layout: .rotaryPermuted, heads: 6)
        #expect(stored != values)
        #expect(GGUFNames.toHuggingFace(stored, stored: [48, 3], layout: .rotaryPermuted, heads: 6) == values)
        // Head 0, head_dim 8: HF rows 0..7 = (pair i, half j) at j*4 + i are stored at 2i + j.
        #expect(stored[1 * 3] == values[4 * 3] && stored[2 * 3] == values[1 * 3])
    }

    @Test func configComesFromTheMetadata() throws {
        let loaded = try Importer.load(Importer.Request(source: Self.fixture("llama")))
        let c = loaded.config
        #expect(c.family == .llama && c.layers == 2 && c.heads == 4 && c.kvHeads == 2 && c.hiddenSize == 64)
        #expect(c.intermediateSize == 96 && c.vocabSize == 128 && c.tiedEmbeddings && c.maxPositions == 64)
        #expect(c.normEps == 1e-5 && c.ropeTheta == 10_000 && c.bosTokenId == 1 && c.eosTokenIds == [2])
        let qwen = try Importer.load(Importer.Request(source: Self.fixture("qwen2"))).config
        #expect(!qwen.tiedEmbeddings && qwen.qkvBias && qwen.ropeTheta == 1_000_000)
        let gpt2 = try Importer.load(Importer.Request(source: Self.fixture("gpt2"))).config
        #expect(gpt2.maxPositions == 1024 && gpt2.intermediateSize == 128 && gpt2.tiedEmbeddings)
    }
}
