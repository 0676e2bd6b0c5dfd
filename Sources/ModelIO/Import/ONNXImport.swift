import Transformer
import Foundation
import ModelFiles

/// An ONNX model's weights read into `Parameters` (fp32, Hugging Face layout) with the map of
/// where each came from.
public struct ONNXImport {
    public let parameters: Parameters
    /// Import-map entries in parameter order (the caller adds the source description).
    public let entries: [ImportMap.Entry]
    /// Element types of the tensors read, e.g. ["FLOAT16": 25, "FLOAT": 2].
    public let sourceTypes: [String: Int]

    /// Resolves and reads every parameter. `directory` is where external data is looked up
    /// (the model's folder).
    public static func load(_ model: ONNXModel, config: ModelConfig, directory: URL?) throws -> ONNXImport {
        let graph = try GraphIndex(model)
        try UnsupportedGraphs.check(graph)
        let resolved = try ONNXWeightResolver(graph: graph, config: config).resolve()
        let reader = WeightReader(model: model, directory: directory)
        // Every tensor's storage must hold its dims before the parameters are allocated.
        for r in resolved {
            for c in [r.primary] + r.duplicates { try reader.checkStorage(graph.initializers[c.tensor]) }
        }
        let parameters = Parameters(specs: config.parameterSpecs)
        var types: [String: Int] = [:]

        // Parameters read from one tensor (exporters merge equal tensors).
        var byTensor: [Int: [String]] = [:]
        for r in resolved { byTensor[r.primary.tensor, default: []].append(r.spec.name) }

        func stored(_ c: ONNXWeightResolver.Candidate) throws -> ImportMap.Stored {
            let t = graph.initializers[c.tensor]
            return ImportMap.Stored(name: t.name, shape: try t.shape().dims, transposed: c.transposed,
                                    dtype: t.dataType.description, storage: ImportMap.Storage(t), clues: c.clues)
        }

        var entries: [ImportMap.Entry] = []
        for r in resolved {
            let tensor = graph.initializers[r.primary.tensor]
            let dest = parameters[r.spec.name]
            try reader.read(tensor, into: dest, transposed: r.primary.transposed)
            types[tensor.dataType.description, default: 0] += 1
            var duplicates: [ImportMap.Stored] = []
            for d in r.duplicates {
                let copy = graph.initializers[d.tensor]
                guard try reader.equals(copy, transposed: d.transposed, to: dest) else {
                    throw ImportError(.ambiguous, file: model.file, subject: "parameter '\(r.spec.name)'",
                                      "expected one tensor (or equal copies), found two candidates with different values: '\(tensor.name)' (\(r.primary.clues.joined(separator: "; "))) and '\(copy.name)'\(d.transposed ? " transposed" : "") (\(d.clues.joined(separator: "; ")))")
                }
                duplicates.append(try stored(d))
            }
            let shared = (byTensor[r.primary.tensor] ?? []).filter { $0 != r.spec.name }
            entries.append(ImportMap.Entry(parameter: r.spec.name, shape: r.spec.shape, source: try stored(r.primary),
                                           duplicates: duplicates, sharedWith: shared))
        }
        return ONNXImport(parameters: parameters, entries: entries, sourceTypes: types)
    }
}
