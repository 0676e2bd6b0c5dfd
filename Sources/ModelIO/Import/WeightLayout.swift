import Transformer
import ModelFiles

/// How a 2-D weight is laid out in terms of the maths, `y = x W^T + b` (Linear) or `y = x W + b`:
/// `[out, in]` (Linear and embedding tables, rows indexed by output / token) or `[in, out]`
/// (what MatMul and Gemm(transB=0) consume; GPT-2 Conv1D stores this).
enum WeightLayout: Equatable {
    case outFirst, inFirst
    var flipped: WeightLayout { self == .outFirst ? .inFirst : .outFirst }
}

/// What a consumer does with an initializer input: the parameter suffix it implies and, for
/// matrices, the layout the consumer reads.
struct WeightRole {
    var suffix: String
    var layout: WeightLayout?

    static func of(_ node: ONNXNode, input: Int) -> WeightRole? {
        guard node.domain.isEmpty || node.domain == "ai.onnx" || node.domain == "com.microsoft" else { return nil }
        switch node.opType {
        case "MatMul":
            return input == 1 ? WeightRole(suffix: "weight", layout: .inFirst) : nil
        case "Gemm":
            if input == 1 {
                let transB = (try? node.int("transB")) ?? 0
                return WeightRole(suffix: "weight", layout: transB != 0 ? .outFirst : .inFirst)
            }
            return input == 2 ? WeightRole(suffix: "bias", layout: nil) : nil
        case "Gather":
            return input == 0 ? WeightRole(suffix: "weight", layout: .outFirst) : nil
        case "Mul":
            return WeightRole(suffix: "weight", layout: nil)
        case "Add":
            return WeightRole(suffix: "bias", layout: nil)
        case "LayerNormalization", "SimplifiedLayerNormalization", "RMSNormalization":
            if input == 1 { return WeightRole(suffix: "weight", layout: nil) }
            return input == 2 ? WeightRole(suffix: "bias", layout: nil) : nil
        default:
            return nil
        }
    }
}

extension ModelConfig {
    /// The Hugging Face layout of a 2-D parameter: the family says which it stores `[in, out]`
    /// (GPT-2's Conv1D); everything else (Linear, embeddings, lm_head) is `[out, in]`.
    func hfLayout(of parameter: String) -> WeightLayout { storesInputFirst(parameter) ? .inFirst : .outFirst }
}
