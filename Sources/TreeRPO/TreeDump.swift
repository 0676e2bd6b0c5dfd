import Foundation
import ModelFiles
import Sampling
import Tokenization

/// Sampled trees as JSON for people: every node with its decoded step text, finish reason,
/// reward, value and advantage (`runs/NAME/trees/step-N.json`).
public enum TreeDump {
    struct Node: Encodable {
        var index: Int, parent: Int?, depth: Int
        var text: String
        var tokens: Int
        var finish: String?
        var reward: Double?, value: Double, advantage: Double?
    }

    struct Tree: Encodable {
        var question: String, reference: String, prompt: String
        var nodes: [Node]
    }

    public static func encode(_ trees: [RolloutTree], tokenizer: Tokenizer) throws -> Data {
        let out = trees.map { tree in
            Tree(question: tree.question, reference: tree.reference,
                 prompt: tokenizer.decode(tree.promptTokens),
                 nodes: tree.nodes.enumerated().map { i, n in
                     Node(index: i, parent: n.parent, depth: n.depth, text: tokenizer.decode(n.tokens), tokens: n.tokens.count,
                          finish: n.finishReason?.rawValue, reward: n.reward, value: n.value, advantage: n.advantage)
                 })
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(out)
    }

    public static func write(_ trees: [RolloutTree], tokenizer: Tokenizer, to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try AtomicFile.write(try encode(trees, tokenizer: tokenizer), to: url)
    }
}
