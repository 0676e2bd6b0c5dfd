import Transformer
import Foundation
import Tensors

/// Our forward's logits for the weights an export writes (`ExportSource`), so that the interop
/// check (`tools/check_export_interop.py`) can compare onnxruntime and transformers, running the
/// exported files, against this runtime running the checkpoint.
public enum ExportLogits {
    /// Logits `[sequence][position][vocab]` of each token sequence, each run on its own
    /// (positions from 0, causal), all packed into one forward pass.
    public static func compute(_ source: ExportSource, sequences: [[Int]]) throws -> [[[Float]]] {
        let model = try TransformerModel(config: source.config, parameters: source.parameters)
        let vocab = source.config.vocabSize
        var tokens: [Int32] = [], positions: [Int32] = [], parents: [Int] = []
        for sequence in sequences {
            guard !sequence.isEmpty, sequence.count <= source.config.maxPositions else {
                throw ModelError("expected 1...\(source.config.maxPositions) token ids per sequence, found \(sequence.count)")
            }
            for (i, id) in sequence.enumerated() {
                guard (0..<vocab).contains(id) else {
                    throw ModelError("expected token ids in 0..<\(vocab), found \(id)")
                }
                parents.append(i == 0 ? -1 : tokens.count - 1)
                tokens.append(Int32(id))
                positions.append(Int32(i))
            }
        }
        let activations = Activations(config: source.config, capacity: tokens.count)
        try model.forward(tokens: tokens, positions: positions, mask: try AttentionMask(parents: parents), activations: activations)
        var result: [[[Float]]] = []
        var row = 0
        for sequence in sequences {
            var rows: [[Float]] = []
            for _ in sequence {
                rows.append(Array(UnsafeBufferPointer(start: activations.logits + row * vocab, count: vocab)))
                row += 1
            }
            result.append(rows)
        }
        return result
    }
}
