import Foundation
import Testing
import TestSupport
import Tensors
@testable import ModelIO
@testable import Transformer

/// Logits of our forward against transformers (`<family>-hf/reference.json`, `decode.json`)
/// and onnxruntime (`<family>-optimum-with-past/reference.json`).
@Suite struct ForwardTests {
    static let families = ["llama-hf", "qwen2-hf", "qwen3-hf", "gpt2-hf", "llama_equalnorms-hf"]

    /// Several sequences packed into one with a block-diagonal causal mask.
    static func packed(_ sequences: [[Int]]) throws -> (tokens: [Int32], positions: [Int32], mask: AttentionMask) {
        var tokens: [Int32] = [], positions: [Int32] = [], parents: [Int] = []
        for s in sequences {
            for (i, t) in s.enumerated() {
                parents.append(i == 0 ? -1 : tokens.count - 1)
                tokens.append(Int32(t))
                positions.append(Int32(i))
            }
        }
        return (tokens, positions, try AttentionMask(parents: parents))
    }

    @Test(arguments: families)
    func packedForwardMatchesTransformers(fixture: String) throws {
        let ref = try ReferenceData.json(fixture, "reference.json")
        let model = try ReferenceData.model(fixture)
        let cases: [(String, [[Int]], [[Float]])] =
            [("2x8 batch", ReferenceData.ints((ref["inputs"] as! [String: Any])["input_ids"]), ReferenceData.rows(ref["logits_torch"]))]
            + (ref["extra_cases"] as! [[String: Any]]).map { ($0["name"] as! String, ReferenceData.ints($0["input_ids"]), ReferenceData.rows($0["logits_torch"])) }
        for keep in [false, true] {
            for (name, ids, expected) in cases {
                let (tokens, positions, mask) = try Self.packed(ids)
                let acts = Activations(config: model.config, capacity: tokens.count, keepsLayers: keep)
                try model.forward(tokens: tokens, positions: positions, mask: mask, activations: acts)
                #expect(expected.count == tokens.count)
                var cmp = LogitComparison()
                for (r, row) in expected.enumerated() { cmp.add(acts.logits + r * model.config.vocabSize, row) }
                #expect(cmp.passes, "\(cmp.message("\(fixture) \(name) packed forward (keepsLayers \(keep))"))")
            }
        }
    }

    @Test(arguments: families)
    func cachedPrefillMatchesTransformers(fixture: String) throws {
        let ref = try ReferenceData.json(fixture, "reference.json")
        let model = try ReferenceData.model(fixture)
        let ids = ReferenceData.ints((ref["inputs"] as! [String: Any])["input_ids"])
        let expected = ReferenceData.rows(ref["logits_torch"])
        let cache = KVCache(config: model.config, slots: 64, blocks: 4)
        let batch = CachedBatch(capacity: 16)
        for seq in ids {
            let b = try cache.makeBlock(capacity: 16)
            for t in seq { try batch.append(token: t, block: b, cache: cache, wantLogits: true) }
        }
        let acts = Activations(config: model.config, capacity: 16)
        try model.forward(batch, cache: cache, activations: acts)
        var cmp = LogitComparison()
        for (r, row) in expected.enumerated() { cmp.add(acts.logits + r * model.config.vocabSize, row) }
        #expect(cmp.passes, "\(cmp.message("\(fixture) 2x8 cached prefill"))")
    }

    /// Prefill each prompt, then feed transformers' greedy tokens one at a time: every step's
    /// logits match, and so does the argmax. `together` decodes all prompts as one batch.
    @Test(arguments: families, [false, true])
    func kvCachedDecodeMatchesTransformersStepByStep(fixture: String, together: Bool) throws {
        try Self.expectCachedGreedyDecode(model: ReferenceData.model(fixture), reference: ReferenceData.json(fixture, "decode.json"),
                                          together: together, label: "\(fixture) vs transformers")
    }

    /// The same 16-step decode against onnxruntime's own greedy loop on each with-past export,
    /// with the weights imported from that ONNX file.
    @Test(arguments: ["llama", "qwen2", "qwen3", "gpt2"])
    func kvCachedDecodeMatchesOnnxruntimeGreedyLoop(family: String) throws {
        let fixture = "\(family)-optimum-with-past"
        let loaded = try Importer.load(Importer.Request(source: FixtureModels.folder(fixture).appendingPathComponent("model.onnx")))
        try Self.expectCachedGreedyDecode(model: TransformerModel(config: loaded.config, parameters: loaded.parameters),
                                          reference: ReferenceData.json(fixture, "ort_decode.json"),
                                          together: true, label: "\(fixture) vs onnxruntime")
    }

    /// `reference` holds cases of prompt, greedy_tokens and step_logits (decode.json's schema).
    static func expectCachedGreedyDecode(model: TransformerModel, reference ref: [String: Any], together: Bool, label: String) throws {
        let cases = ref["cases"] as! [[String: Any]]
        let prompts = cases.map { ($0["prompt"] as! [Any]).map { ($0 as! NSNumber).intValue } }
        let greedy = cases.map { ($0["greedy_tokens"] as! [Any]).map { ($0 as! NSNumber).intValue } }
        let stepLogits = cases.map { ReferenceData.rows($0["step_logits"]) }
        let vocab = model.config.vocabSize
        let groups: [[Int]] = together ? [Array(cases.indices)] : cases.indices.map { [$0] }
        let cache = KVCache(config: model.config, slots: 128, blocks: 8)
        let batch = CachedBatch(capacity: 32)
        let acts = Activations(config: model.config, capacity: 32)
        var cmp = LogitComparison()
        for group in groups {
            cache.reset()
            let blocks = try group.map { _ in try cache.makeBlock(capacity: 40) }
            batch.removeAll()
            for (b, c) in zip(blocks, group) {
                for (j, t) in prompts[c].enumerated() {
                    try batch.append(token: t, block: b, cache: cache, wantLogits: j == prompts[c].count - 1)
                }
            }
            for step in 0..<greedy[0].count {
                try model.forward(batch, cache: cache, activations: acts)
                for (row, c) in group.enumerated() {
                    let logits = acts.logits + row * vocab
                    cmp.add(logits, stepLogits[c][step])
                    #expect(argmax(logits, vocab) == greedy[c][step],
                            "\(label) prompt \(c) step \(step): greedy token differs; \(FixtureModels.regenerate)")
                }
                batch.removeAll()
                for (b, c) in zip(blocks, group) {
                    try batch.append(token: greedy[c][step], block: b, cache: cache, wantLogits: true)
                }
            }
        }
        #expect(cmp.passes, "\(cmp.message("\(label): 16-step cached greedy decode (batched: \(together))"))")
    }

    /// The onnxruntime with-past export's decode step (prefill 2x8, then one token each),
    /// run with the same weights from the `-hf` folder.
    @Test(arguments: ["llama", "qwen2", "qwen3", "gpt2"])
    func decodeStepMatchesOnnxruntimeWithPast(family: String) throws {
        let ref = try ReferenceData.json("\(family)-optimum-with-past", "reference.json")
        let model = try ReferenceData.model("\(family)-hf")
        let ids = ReferenceData.ints((ref["inputs"] as! [String: Any])["input_ids"])
        let step = ref["decode_step"] as! [String: Any]
        let next = ReferenceData.ints(step["next_input_ids"])
        let expected = ReferenceData.rows(step["logits_onnxruntime"])
        let cache = KVCache(config: model.config, slots: 32, blocks: 2)
        let batch = CachedBatch(capacity: 16)
        let acts = Activations(config: model.config, capacity: 16)
        let blocks = try ids.map { seq in
            let b = try cache.makeBlock(capacity: 9)
            for t in seq { try batch.append(token: t, block: b, cache: cache) }
            return b
        }
        try model.forward(batch, cache: cache, activations: acts)
        batch.removeAll()
        for (b, n) in zip(blocks, next) { try batch.append(token: n[0], block: b, cache: cache, wantLogits: true) }
        try model.forward(batch, cache: cache, activations: acts)
        var cmp = LogitComparison()
        for (r, row) in expected.enumerated() { cmp.add(acts.logits + r * model.config.vocabSize, row) }
        #expect(cmp.passes, "\(cmp.message("\(family)-optimum-with-past decode step vs onnxruntime"))")
    }

    /// A tree in the cache: two children forked from one prompt block see the prompt and only
    /// their own tokens, exactly as two separate sequences would.
    @Test func forkedBlocksEqualSeparateSequences() throws {
        let model = try ReferenceData.model("qwen2-hf")
        let cmp = try Self.forkedAgainstPacked(model, prompt: [5, 17, 99, 3], branches: [[7, 8, 9], [40, 41]], includePrompt: false)
        #expect(cmp.passes, "\(cmp.message("tree cache vs packed sequences"))")
    }

    /// Logits of `branches` forked from one cached `prompt` block (the prompt in one forward,
    /// then every branch in one batch) against each prompt + branch as its own packed sequence;
    /// with `includePrompt`, the prompt's last row too.
    static func forkedAgainstPacked(
        _ model: TransformerModel, prompt: [Int], branches: [[Int]], includePrompt: Bool
    ) throws -> LogitComparison {
        // Both sides are our own forward over the same weights, only batched differently: 1e-5.
        let vocab = model.config.vocabSize
        // Separately: prompt + branch as one packed sequence each.
        let (tokens, positions, mask) = try packed(branches.map { prompt + $0 })
        let packedActs = Activations(config: model.config, capacity: tokens.count)
        try model.forward(tokens: tokens, positions: positions, mask: mask, activations: packedActs)
        // As a tree: prompt block, then one child block per branch in one batch.
        let rows = max(prompt.count, branches.map(\.count).reduce(0, +))
        let cache = KVCache(config: model.config, slots: 64, blocks: 4)
        let batch = CachedBatch(capacity: rows)
        let acts = Activations(config: model.config, capacity: rows)
        let root = try cache.makeBlock(capacity: prompt.count)
        for (i, t) in prompt.enumerated() {
            try batch.append(token: t, block: root, cache: cache, wantLogits: includePrompt && i == prompt.count - 1)
        }
        try model.forward(batch, cache: cache, activations: acts)
        var cmp = LogitComparison(.ofLargest(1e-5))
        if includePrompt {
            cmp.add(acts.logits, Array(UnsafeBufferPointer(start: packedActs.logits + (prompt.count - 1) * vocab, count: vocab)))
        }
        batch.removeAll()
        for branch in branches {
            let child = try cache.makeBlock(parent: root, capacity: branch.count)
            for t in branch { try batch.append(token: t, block: child, cache: cache, wantLogits: true) }
        }
        try model.forward(batch, cache: cache, activations: acts)
        var row = 0, packedRow = 0
        for branch in branches {
            packedRow += prompt.count
            for _ in branch {
                cmp.add(acts.logits + row * vocab, Array(UnsafeBufferPointer(start: packedActs.logits + packedRow * vocab, count: vocab)))
                row += 1
                packedRow += 1
            }
        }
        return cmp
    }

    @Test func badRequestsAreRefusedWithTheReason() throws {
        let model = try ReferenceData.model("llama-hf")
        let cache = KVCache(config: model.config, slots: 4, blocks: 1)
        let b = try cache.makeBlock(capacity: 2)
        let batch = CachedBatch(capacity: 4)
        try batch.append(token: 1, block: b, cache: cache)
        try batch.append(token: 2, block: b, cache: cache)
        #expect(throws: KVCacheError.self) { try batch.append(token: 3, block: b, cache: cache) }
        #expect(throws: KVCacheError.self) { try cache.makeBlock(capacity: 1) }
        batch.removeAll()
        let cache2 = KVCache(config: model.config, slots: 4, blocks: 1)
        try batch.append(token: 1000, block: try cache2.makeBlock(capacity: 1), cache: cache2)
        let error = #expect(throws: ModelError.self) {
            try model.forward(batch, cache: cache2, activations: Activations(config: model.config, capacity: 4))
        }
        #expect(error?.message.contains("1000") == true)
    }
}
