import Transformer
import Foundation
import ModelFiles

/// The weights an export writes: a checkpoint of a run or, when no run has saved one yet (or
/// `--checkpoint base` asks for it), the untrained import itself; read into the layout of the
/// workspace's config after checking every tensor against the import map.
public struct ExportSource {
    public enum Origin: Equatable, Sendable {
        case checkpoint(CheckpointRef)
        /// The imported model as it is in `base/` (no training).
        case base
    }

    public let workspace: Workspace
    public let origin: Origin
    public let config: ModelConfig
    public let map: ImportMap
    public let parameters: Parameters
    /// `configDigest` of the checkpoint's `trainer.json`; nil when there is none.
    public let configDigest: String?

    /// The safetensors file the parameters were read from.
    public var weightsFile: URL {
        switch origin {
        case .checkpoint(let ref): return ref.weights
        case .base: return workspace.baseWeights
        }
    }

    /// "run 'a' step 12 (…/step-00000012)" or "the untrained import (base/model.safetensors)".
    public var description: String {
        switch origin {
        case .checkpoint(let ref): return "run '\(ref.run)' step \(ref.step) (\(ref.folder.path))"
        case .base: return "the untrained import (\(workspace.baseWeights.path))"
        }
    }

    /// `checkpoint`: nil for the newest checkpoint of the run that saved last (the base when
    /// there is none), "base" for the import, else anything `Workspace.resolveCheckpoint` takes.
    public static func load(workspace: Workspace, checkpoint: String?) throws -> ExportSource {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: workspace.root.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ExportError(.workspace, file: workspace.root.path,
                              "expected a workspace folder, found nothing at this path; import a model first or choose another workspace", setting: .workspace)
        }
        guard workspace.hasBase else {
            throw ExportError(.workspace, file: workspace.base.path,
                              "expected an imported model (config.json) in the workspace, found none; run `treerpo import MODEL` first")
        }
        guard fm.fileExists(atPath: workspace.baseImportMap.path) else {
            throw ExportError(.workspace, file: workspace.baseImportMap.path,
                              "expected the import map written by `treerpo import`, found none; re-import the model")
        }
        let map: ImportMap
        do { map = try ImportMap.read(workspace.baseImportMap) } catch {
            throw ExportError(.workspace, file: workspace.baseImportMap.path, "\(PlainErrorText.describe(error))")
        }
        let config: ModelConfig
        do {
            config = try ModelConfig(hf: HFConfig(contentsOf: workspace.baseConfig), file: workspace.baseConfig.path)
        } catch {
            throw ExportError(.workspace, file: workspace.baseConfig.path, "cannot read the imported config: \(PlainErrorText.describe(error))")
        }
        try checkMapMatchesConfig(map, config: config, file: workspace.baseImportMap.path)

        let origin: Origin
        if checkpoint == "base" {
            origin = .base
        } else if let checkpoint {
            do { origin = .checkpoint(try workspace.resolveCheckpoint(checkpoint)) } catch let error as CheckpointError {
                throw ExportError(.checkpoint, file: workspace.runs.path, error.message)
            }
        } else {
            origin = workspace.latestCheckpoint().map(Origin.checkpoint) ?? .base
        }
        var digest: String? = nil
        if case .checkpoint(let ref) = origin {
            digest = try configDigest(ref.trainerState)
        }
        let file: URL
        switch origin {
        case .checkpoint(let ref): file = ref.weights
        case .base: file = workspace.baseWeights
        }
        let parameters = try loadParameters(file, map: map, config: config)
        return ExportSource(workspace: workspace, origin: origin, config: config, map: map,
                            parameters: parameters, configDigest: digest)
    }

    /// The import map lists exactly the config's parameters with the same shapes.
    static func checkMapMatchesConfig(_ map: ImportMap, config: ModelConfig, file: String) throws {
        let specs = config.parameterSpecs
        let mapped = Dictionary(map.entries.map { ($0.parameter, $0.shape) }, uniquingKeysWith: { a, _ in a })
        for spec in specs {
            guard let shape = mapped[spec.name] else {
                throw ExportError(.importMap, file: file, subject: "parameter '\(spec.name)'",
                                  "expected an entry for every parameter of config.json, found none for this one")
            }
            guard shape == spec.shape else {
                throw ExportError(.importMap, file: file, subject: "parameter '\(spec.name)'",
                                  "expected shape \(spec.shape) (config.json), found \(shape)")
            }
        }
        let names = Set(specs.map(\.name))
        if let extra = map.entries.first(where: { !names.contains($0.parameter) }) {
            throw ExportError(.importMap, file: file, subject: "parameter '\(extra.parameter)'",
                              "expected only parameters of config.json, found this one too")
        }
    }

    /// Reads a checkpoint (or the base) after checking every tensor against the import map:
    /// present, float, and of the shape the map records; nothing unexpected beside them.
    static func loadParameters(_ url: URL, map: ImportMap, config: ModelConfig) throws -> Parameters {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ExportError(.checkpoint, file: url.path, "expected the weights file, found nothing at this path")
        }
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(contentsOf: url) } catch {
            throw ExportError(.checkpoint, file: url.path, "cannot read the weights: \(PlainErrorText.describe(error))")
        }
        let parameters = Parameters(specs: config.parameterSpecs)
        let present = Set(file.names)
        let expected = Set(map.entries.map(\.parameter))
        for name in file.names.sorted() where !expected.contains(name) && !config.isIgnoredCheckpointName(name) {
            // A tied head stored beside the embedding is accepted by the loader (checked equal).
            if config.tiedEmbeddings, name == config.tiedHeadName { continue }
            throw ExportError(.checkpoint, file: url.path, subject: "tensor '\(name)'",
                              "expected only the parameters of base/\(ImportMap.fileName), found this one too")
        }
        for entry in map.entries {
            guard present.contains(entry.parameter) else {
                throw ExportError(.checkpoint, file: url.path, subject: "tensor '\(entry.parameter)'",
                                  "expected shape \(entry.shape) (as in base/\(ImportMap.fileName)), found no such tensor")
            }
            let stored: SafeTensorsFile.Entry
            do { stored = try file.entry(entry.parameter) } catch {
                throw ExportError(.checkpoint, file: url.path, subject: "tensor '\(entry.parameter)'", "\(PlainErrorText.describe(error))")
            }
            guard stored.shape == entry.shape else {
                throw ExportError(.checkpoint, file: url.path, subject: "tensor '\(entry.parameter)'",
                                  "expected shape \(entry.shape) (as in base/\(ImportMap.fileName)), found \(stored.shape)")
            }
            guard stored.dtype.scalarType.isFloatingPoint else {
                throw ExportError(.checkpoint, file: url.path, subject: "tensor '\(entry.parameter)'",
                                  "expected a float dtype, found \(stored.dtype.rawValue)")
            }
        }
        do {
            try CheckpointLoading.fill(parameters, config: config, source: url.path, names: file.names) { name in
                guard present.contains(name) else { return nil }
                return (try file.entry(name).shape, { try file.floats(name) })
            }
        } catch {
            throw ExportError(.checkpoint, file: url.path, "\(PlainErrorText.describe(error))")
        }
        return parameters
    }

    /// `configDigest` from a checkpoint's trainer.json: nil when the file or the field is absent.
    static func configDigest(_ url: URL) throws -> String? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let object: [String: JSONValue]?
        do {
            object = try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: url)).objectValue
        } catch {
            throw ExportError(.checkpoint, file: url.path, "expected a JSON object, found: \(PlainErrorText.describe(error))")
        }
        guard let object else {
            throw ExportError(.checkpoint, file: url.path, "expected a JSON object at the top level")
        }
        guard let value = object["configDigest"], !value.isNull else { return nil }
        guard let digest = value.stringValue else {
            throw ExportError(.checkpoint, file: url.path, subject: "field 'configDigest'", "expected a string, found \(value)")
        }
        return digest
    }
}
