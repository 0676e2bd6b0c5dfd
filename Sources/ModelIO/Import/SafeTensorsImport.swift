import Transformer
import Foundation
import ModelFiles

/// Safetensors sources: a single `.safetensors` file or a Hugging Face folder (single file or
/// shards), names already canonical; the config is given or beside the weights (a safetensors file
/// records no head count, so it is never inferred).
enum SafeTensorsImport {
    static func load(file: URL, config configURL: URL?) throws -> Importer.Loaded {
        guard let (config, json, source) = try ConfigFile.find(given: configURL, beside: file) else {
            throw ImportError(.config, file: file.path, "expected config.json beside the weights or given with the import, found neither (a safetensors file does not record the head count)", setting: .modelConfig)
        }
        let weights = try SafeTensorsFile(contentsOf: file)
        return try load(files: [file.lastPathComponent: weights], weightMap: Dictionary(uniqueKeysWithValues: weights.names.map { ($0, file.lastPathComponent) }),
                        folder: file.deletingLastPathComponent(), path: file, format: "safetensors",
                        config: config, configJSON: json, configSource: source)
    }

    static func load(folder: URL, config configURL: URL?) throws -> Importer.Loaded {
        guard let (config, json, source) = try ConfigFile.find(given: configURL, beside: folder.appendingPathComponent("model.safetensors")) else {
            throw ImportError(.config, file: folder.appendingPathComponent("config.json").path, "expected config.json in the folder or given with the import, found neither", setting: .modelConfig)
        }
        let (files, weightMap) = try SafeTensorsShards.open(directory: folder)
        return try load(files: files, weightMap: weightMap, folder: folder, path: folder, format: "hf-folder",
                        config: config, configJSON: json, configSource: source)
    }

    private static func load(files: [String: SafeTensorsFile], weightMap: [String: String], folder: URL, path: URL, format: String,
                             config: ModelConfig, configJSON: Data, configSource: String) throws -> Importer.Loaded {
        let parameters = Parameters(specs: config.parameterSpecs)
        var types: [String: Int] = [:]
        do {
            try CheckpointLoading.fill(parameters, config: config, source: path.path, names: Array(weightMap.keys)) { name in
                guard let fileName = weightMap[name], let file = files[fileName] else { return nil }
                let entry = try file.entry(name)
                return (entry.shape, { types["\(entry.dtype)", default: 0] += 1; return try file.floats(name) })
            }
        } catch let error as LoadError {
            let kind: ImportError.Kind = error.message.contains("missing") ? .missing
                : error.message.contains("unexpected") ? .extra : error.message.contains("shape") ? .misshaped : .inconsistent
            throw ImportError(kind, file: error.source, subject: "parameter '\(error.parameter)'", error.message)
        }
        var entries: [ImportMap.Entry] = []
        for spec in config.parameterSpecs {
            let fileName = weightMap[spec.name]!
            let e = try files[fileName]!.entry(spec.name)
            entries.append(ImportMap.Entry(
                parameter: spec.name, shape: spec.shape,
                source: ImportMap.Stored(name: spec.name, shape: e.shape, transposed: false, dtype: "\(e.dtype)",
                                         storage: ImportMap.Storage(kind: "safetensors", location: fileName,
                                                                    offset: e.dataOffsets.lowerBound, length: e.dataOffsets.count),
                                         clues: ["name"]),
                duplicates: [], sharedWith: []))
        }
        var sourceFiles: [ImportMap.SourceFile] = []
        for name in files.keys.sorted() {
            let (hash, bytes) = try SHA256.hex(file: folder.appendingPathComponent(name))
            sourceFiles.append(ImportMap.SourceFile(name: name, bytes: bytes, sha256: hash))
        }
        let main = sourceFiles.count == 1 ? sourceFiles[0] : ImportMap.SourceFile(name: "", bytes: sourceFiles.reduce(0) { $0 + $1.bytes }, sha256: nil)
        let map = ImportMap(source: ImportMap.Source(format: format, path: path.path, sha256: main.sha256 ?? "", bytes: main.bytes, files: sourceFiles),
                            family: config.family, config: configSource, entries: entries)
        return Importer.Loaded(config: config, configJSON: configJSON, parameters: parameters, map: map,
                               inferenceNotes: [], sourceDType: Importer.describe(types))
    }
}
