import Transformer
import ModelFiles

/// Graphs whose weights are not plain float tensors: refused up front, with the node or tensor
/// that gave them away, instead of failing later with a confusing "missing parameter".
enum UnsupportedGraphs {
    /// Operators that consume quantised weights (onnxruntime contrib and standard ops).
    static let quantisedOps: Set<String> = [
        "MatMulNBits", "MatMulInteger", "QLinearMatMul", "DequantizeLinear", "QuantizeLinear",
        "DynamicQuantizeLinear", "MatMulIntegerToFloat", "DynamicQuantizeMatMul", "QAttention",
        "GatherBlockQuantized", "QLinearConv", "MatMulBnb4", "QGemm", "QMoE",
    ]
    /// Fused operators of onnxruntime-genai's model builder (its graphs keep no module paths).
    static let genaiOps: Set<String> = [
        "GroupQueryAttention", "SkipSimplifiedLayerNormalization", "RotaryEmbedding", "MultiHeadAttention",
        "PackedMultiHeadAttention", "SparseAttention",
    ]
    /// Element types of quantised weight storage.
    static let quantisedTypes: Set<ONNXDataType> = [
        .int8, .uint8, ONNXDataType(rawValue: 21) /* UINT4 */, ONNXDataType(rawValue: 22) /* INT4 */,
        ONNXDataType(rawValue: 17), ONNXDataType(rawValue: 18), ONNXDataType(rawValue: 19), ONNXDataType(rawValue: 20),
        ONNXDataType(rawValue: 23), ONNXDataType(rawValue: 25), ONNXDataType(rawValue: 26),
    ]

    static func check(_ graph: GraphIndex) throws {
        let file = graph.file
        for node in graph.nodes {
            if quantisedOps.contains(node.opType) {
                throw ImportError(.unsupported, file: file, subject: "node '\(node.name)' (\(node.opType))",
                                  "expected a float model, found a quantised one (\(node.opType)); import the fp32/fp16 export instead")
            }
            if genaiOps.contains(node.opType) {
                throw ImportError(.unsupported, file: file, subject: "node '\(node.name)' (\(node.opType))",
                                  "expected a torch/optimum export, found an onnxruntime-genai model-builder graph (\(node.opType)); export the model with torch.onnx or optimum instead")
            }
        }
        for tensor in graph.initializers {
            if tensor.name.contains("qkv_proj") {
                throw ImportError(.unsupported, file: file, subject: "tensor '\(tensor.name)'",
                                  "expected separate q/k/v projections, found a fused qkv_proj (onnxruntime-genai model-builder graph); export the model with torch.onnx or optimum instead")
            }
            if tensor.dims.count >= 2, quantisedTypes.contains(tensor.dataType) {
                throw ImportError(.unsupported, file: file, subject: "tensor '\(tensor.name)'",
                                  "expected FLOAT, FLOAT16 or BFLOAT16 weights, found \(tensor.dataType) \(tensor.dims) (a quantised model); import the fp32/fp16 export instead")
            }
        }
    }
}
