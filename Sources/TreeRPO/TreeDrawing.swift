import Foundation
import Sampling

/// Text pictures of rollout trees: one line per step, indented by depth.
public enum TreeDrawing {
    public static func render(_ tree: RolloutTree, decode: ([Int]) -> String) -> String {
        let hasValues = tree.nodes.contains { $0.reward != nil || $0.advantage != nil }
        var lines: [String] = []
        func draw(_ node: Int, prefix: String) {
            let children = tree[node].children
            for (k, c) in children.enumerated() {
                let last = k == children.count - 1, n = tree[c]
                var facts = ["\(n.tokens.count) tok", n.finishReason.map(describe) ?? "open",
                             String(format: "logp %.2f", n.logProbs.reduce(0, +))]
                if hasValues {
                    if let r = n.reward { facts.append(String(format: "reward %.2f", r)) }
                    facts.append(String(format: "value %.3f", n.value))
                    if let a = n.advantage { facts.append(String(format: "adv %+.3f", a)) }
                }
                lines.append(prefix + (last ? "└─ " : "├─ ") + "[\(c)] \(decode(n.tokens).debugDescription)  (\(facts.joined(separator: ", ")))")
                draw(c, prefix: prefix + (last ? "   " : "│  "))
            }
        }
        draw(RolloutTree.root, prefix: "")
        return lines.joined(separator: "\n")
    }

    public static func describe(_ reason: FinishReason) -> String {
        switch reason {
        case .eos: "EOS"
        case .stepLength: "step end"
        case .depth: "cut at depth D"
        case .budget: "budget spent"
        }
    }

    public static func summary(_ s: TreeSamplingStats) -> String {
        String(format: "%d leaves, %d tokens sampled; computed %d tokens in %d forwards (prompt %d + steps %d - %d leaf ends never fed) of %d root-to-leaf path tokens: %.1f%% saved by prefix sharing; %.2f s",
               s.leaves, s.sampledTokens, s.computedTokens, s.forwards, s.promptTokens, s.sampledTokens, s.leaves,
               s.leafPathTokens, 100 * s.shareSaved, s.wallSeconds)
    }
}
