import Foundation
import Sampling
import Tokenization

/// The JSON form of one sampled tree with its sampling statistics (`treerpo sample --json`);
/// `TreeDump` is the training run's form.
public struct SampledTreeDump: Encodable {
    public struct Node: Encodable {
        var index: Int, parent: Int?, depth: Int, children: [Int]
        var tokens: [Int], text: String, log_probs: [Float]
        var finish_reason: String?, reward: Double?, value: Double, advantage: Double?
    }
    public struct Stats: Encodable {
        var leaves: Int, sampled_tokens: Int, computed_tokens: Int, prompt_tokens: Int, forwards: Int
        var leaf_path_tokens: Int, share_saved: Double, wall_seconds: Double, kv_slots_used: Int, kv_bytes_planned: Int
    }
    public var prompt: String, question: String, reference: String, prompt_tokens: [Int]
    public var nodes: [Node]
    public var stats: Stats

    public init(tree: RolloutTree, prompt: String, tokenizer: Tokenizer, stats s: TreeSamplingStats) {
        self.prompt = prompt
        question = tree.question
        reference = tree.reference
        prompt_tokens = tree.promptTokens
        nodes = tree.nodes.enumerated().map { i, n in
            Node(index: i, parent: n.parent, depth: n.depth, children: n.children, tokens: n.tokens,
                 text: tokenizer.decode(n.tokens), log_probs: n.logProbs, finish_reason: n.finishReason?.rawValue,
                 reward: n.reward, value: n.value, advantage: n.advantage)
        }
        stats = Stats(leaves: s.leaves, sampled_tokens: s.sampledTokens, computed_tokens: s.computedTokens,
                      prompt_tokens: s.promptTokens, forwards: s.forwards, leaf_path_tokens: s.leafPathTokens,
                      share_saved: s.shareSaved, wall_seconds: s.wallSeconds, kv_slots_used: s.kvSlotsUsed,
                      kv_bytes_planned: s.plan?.kvBytes ?? 0)
    }
}
