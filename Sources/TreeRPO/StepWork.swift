import Sampling
import Transformer

/// Matrix-product FLOPs of one `finetune` step, counted from its shapes (`StepFlops`: linear
/// maps, logits rows, visible attention pairs; norms, softmax and AdamW left out). With the
/// sgemm peak they give the step's floating-point bound, the time it would take were every
/// product at that peak (`tools/bench_step.py`).
public enum StepWork {
    /// Sampling `trees` with the shared-prefix KV cache: each prompt of L tokens prefilled once
    /// (L rows, logits for the last, L(L+1)/2 visible pairs), then every sampled token fed once
    /// at its path position p (p + 1 visible keys, one logits row for what follows it), except a
    /// leaf's last token, which nothing reads.
    public static func samplingFlops(_ trees: [RolloutTree], config c: ModelConfig) -> Double {
        var rows = 0, logitRows = 0, pairs = 0
        for tree in trees {
            let prompt = tree.promptTokens.count
            rows += prompt
            logitRows += 1
            pairs += prompt * (prompt + 1) / 2
            // `start[i]`: the path position of node i's first token (children after parents).
            var start = [Int](repeating: prompt, count: tree.nodes.count)
            for i in tree.nodes.indices {
                let node = tree.nodes[i]
                if let parent = node.parent { start[i] = start[parent] + tree.nodes[parent].tokens.count }
                let fed = node.isLeaf ? max(0, node.tokens.count - 1) : node.tokens.count
                rows += fed
                logitRows += fed
                // Positions start[i] ..< start[i] + fed, each seeing position + 1 keys.
                pairs += fed * start[i] + fed * (fed + 1) / 2
            }
        }
        return StepFlops.forward(c, tokens: rows, logitRows: logitRows, pairs: pairs)
    }

    /// Training on the packed `sequences`: per PPO epoch a forward and backward (3 x the forward)
    /// of every packed row, logits for the loss rows only, and position + 1 visible keys per row
    /// (the tree mask shows a row its path, whose positions run 0 ..< position); with a reference
    /// model (beta > 0) one more forward of every sequence.
    public static func trainingFlops(_ sequences: [PackedSequence], config c: ModelConfig, epochs: Int,
                                     referenceModel: Bool) -> Double {
        let forward = sequences.reduce(0.0) { total, s in
            total + StepFlops.forward(c, tokens: s.count, logitRows: s.lossTokens.count,
                                      pairs: s.positions.reduce(0) { $0 + Int($1) + 1 })
        }
        return 3 * Double(epochs) * forward + (referenceModel ? forward : 0)
    }
}
