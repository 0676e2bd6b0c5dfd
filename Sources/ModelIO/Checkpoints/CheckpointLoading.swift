import Foundation
import ModelFiles
import Tensors
import Transformer

/// Fills `Parameters` from named tensors (a safetensors checkpoint or an import), rejecting
/// anything missing, extra or mis-shaped, with the parameter and the source named.
public enum CheckpointLoading {
    /// A Hugging Face model folder: `config.json` plus `model.safetensors` (or shards + index).
    public static func loadFolder(_ folder: URL) throws -> (config: ModelConfig, parameters: Parameters) {
        let configURL = folder.appendingPathComponent("config.json")
        let config = try ModelConfig(hf: HFConfig(contentsOf: configURL), file: configURL.path)
        let (files, weightMap) = try SafeTensorsShards.open(directory: folder)
        let parameters = Parameters(specs: config.parameterSpecs)
        try fill(parameters, config: config, source: folder.path, names: Array(weightMap.keys)) { name in
            guard let fileName = weightMap[name], let file = files[fileName] else { return nil }
            let entry = try file.entry(name)
            return (entry.shape, { try file.floats(name) })
        }
        return (config, parameters)
    }

    /// `lookup(name)` gives a tensor's stored shape and a way to read its values as Float32.
    public static func fill(
        _ parameters: Parameters, config: ModelConfig, source: String, names: [String],
        lookup: (String) throws -> (shape: [Int], values: () throws -> [Float])?
    ) throws {
        try fillInPlace(parameters, config: config, source: source, names: names) { name in
            guard let found = try lookup(name) else { return nil }
            return (found.shape, { destination in
                let values = try found.values()
                guard values.count == destination.count else {
                    throw LoadError(source: source, parameter: name, "expected \(destination.count) values, found \(values.count)")
                }
                _ = destination.update(fromContentsOf: values)
            })
        }
    }

    /// `lookup(name)` gives a tensor's stored shape and a way to write its Float32 values straight
    /// into a buffer of as many values as the shape holds (the parameter itself: no temporary
    /// copy of the tensor).
    public static func fillInPlace(
        _ parameters: Parameters, config: ModelConfig, source: String, names: [String],
        lookup: (String) throws -> (shape: [Int], read: (UnsafeMutableBufferPointer<Float>) throws -> Void)?
    ) throws {
        let wanted = Set(parameters.specs.map(\.name))
        var tiedHead: [Float]? = nil
        for name in names.sorted() where !wanted.contains(name) && !config.isIgnoredCheckpointName(name) {
            if config.tiedEmbeddings, name == config.tiedHeadName, let found = try lookup(name) {
                // Some writers store the tied head as well; it must be the embedding itself.
                let count = found.shape.reduce(1, *)
                var values = [Float](repeating: 0, count: count)
                try values.withUnsafeMutableBufferPointer { try found.read($0) }
                tiedHead = values
                continue
            }
            throw LoadError(source: source, parameter: name,
                            "is not a parameter of a \(config.family.rawValue) model with this config (unexpected tensor)")
        }
        for spec in parameters.specs {
            guard let found = try lookup(spec.name) else {
                throw LoadError(source: source, parameter: spec.name, "is missing (expected shape \(spec.shape))")
            }
            guard found.shape == spec.shape else {
                throw LoadError(source: source, parameter: spec.name, "expected shape \(spec.shape), found \(found.shape)")
            }
            try found.read(UnsafeMutableBufferPointer(start: parameters[spec.name], count: spec.count))
        }
        if let tiedHead {
            let embedding = UnsafeBufferPointer(start: parameters[config.embeddingName], count: parameters.entry(config.embeddingName)?.spec.count ?? 0)
            guard tiedHead.count == embedding.count, zip(tiedHead, embedding).allSatisfy({ $0 == $1 }) else {
                throw LoadError(source: source, parameter: config.tiedHeadName,
                                "the config ties it to \(config.embeddingName), but the stored values differ")
            }
        }
    }
}

/// A checkpoint that does not fit the model, naming the source and the parameter.
public struct LoadError: Error, CustomStringConvertible, Equatable {
    public let source: String, parameter: String, message: String
    public init(source: String, parameter: String, _ message: String) {
        self.source = source; self.parameter = parameter; self.message = message
    }
    public var description: String { "\(source): parameter '\(parameter)' \(message)" }
}

extension TransformerModel {
    /// Loads a Hugging Face folder (`config.json`, `model.safetensors`).
    public convenience init(folder: URL) throws {
        let (config, parameters) = try CheckpointLoading.loadFolder(folder)
        try self.init(config: config, parameters: parameters)
    }
}
