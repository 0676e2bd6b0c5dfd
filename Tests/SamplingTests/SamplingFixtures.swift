import Foundation
import TestSupport
import Sampling
import Tensors
import ModelIO
import Transformer

/// The committed fixture models (`Fixtures/models/*-hf`: vocab 128, 64 positions, made by
/// `tools/make_onnx_fixtures.py`), and helpers the tree sampler tests share.
enum SamplingFixtures {
    static let root = Repository.fixtureModels

    static let regenerate = "fixture models: regenerate with python tools/make_onnx_fixtures.py"

    static let families = ["llama-hf", "qwen2-hf", "qwen3-hf", "gpt2-hf"]

    static func model(_ name: String) throws -> TransformerModel {
        try TransformerModel(folder: root.appendingPathComponent(name))
    }

    /// Prompts of different lengths (ids chosen arbitrarily below the vocabulary of 128).
    static let prompts: [[Int]] = [[5, 9, 17, 33, 64, 7], [11, 3, 90, 45, 12, 100, 8, 71, 19], [40, 41, 42, 43]]

    /// The id sampled most often over `trees`: a stop token that some branches will draw.
    static func mostFrequentToken(_ trees: [RolloutTree]) -> Int {
        var counts: [Int: Int] = [:]
        for t in trees { for n in t.nodes { for id in n.tokens { counts[id, default: 0] += 1 } } }
        return counts.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }!.key
    }

    /// log softmax of a plain causal forward over `tokens`: entry k is the log-probability of
    /// tokens[k + 1] given tokens[0...k], `[tokens.count - 1]`.
    static func plainForwardLogProbs(_ model: TransformerModel, tokens: [Int]) throws -> [Float] {
        let n = tokens.count, vocab = model.config.vocabSize
        let acts = Activations(config: model.config, capacity: n)
        try model.forward(tokens: tokens.map(Int32.init), positions: (0..<n).map(Int32.init),
                          mask: .causal(count: n), activations: acts)
        return (0..<(n - 1)).map { k in modelLogProb(acts.logits + k * vocab, vocab: vocab, id: tokens[k + 1]) }
    }
}
