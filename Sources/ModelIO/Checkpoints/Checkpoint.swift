import Transformer
import Foundation
import ModelFiles

/// A training checkpoint on disk (docs/architecture.md "The workspace"):
///
///     runs/<run>/checkpoints/step-00000012/
///         model.safetensors       F32, canonical Hugging Face names, the base's parameter set
///         optimizer.safetensors   AdamW moments `m.<name>`, `v.<name>` (trainer only)
///         trainer.json            step, data position, RNG state, config digest (trainer only)
///
/// A checkpoint is written into a hidden temporary folder beside it and renamed into place, so
/// a folder named `step-N` is always complete; a kill mid-write leaves only a `.tmp` folder,
/// which readers ignore.
public struct CheckpointRef: Equatable, Sendable, CustomStringConvertible {
    public static let modelFile = "model.safetensors"
    public static let optimizerFile = "optimizer.safetensors"
    public static let stateFile = "trainer.json"

    public let run: String
    public let step: Int
    public let folder: URL

    public init(run: String, step: Int, folder: URL) {
        self.run = run
        self.step = step
        self.folder = folder
    }

    public var weights: URL { folder.appendingPathComponent(Self.modelFile) }
    public var optimizerState: URL { folder.appendingPathComponent(Self.optimizerFile) }
    public var trainerState: URL { folder.appendingPathComponent(Self.stateFile) }
    public var description: String { "\(run) step \(step) (\(folder.path))" }

    /// `step-00000012`
    public static func folderName(step: Int) -> String { "step-" + String(format: "%08d", step) }

    /// The step of a folder named `step-N`, nil for anything else (temporary folders included).
    public static func step(ofFolderName name: String) -> Int? {
        guard name.hasPrefix("step-") else { return nil }
        let digits = name.dropFirst(5)
        guard !digits.isEmpty, digits.allSatisfy(\.isASCIIDigit) else { return nil }
        return Int(digits)
    }

    /// Reads the checkpoint's weights into the layout of `config`, rejecting anything missing,
    /// extra or mis-shaped with the file and the parameter named.
    public func loadParameters(config: ModelConfig) throws -> Parameters {
        guard FileManager.default.fileExists(atPath: weights.path) else {
            throw CheckpointError("\(folder.path): expected \(Self.modelFile) in the checkpoint, found none")
        }
        let file = try SafeTensorsFile(contentsOf: weights)
        let parameters = Parameters(specs: config.parameterSpecs)
        let names = Set(file.names)
        try CheckpointLoading.fill(parameters, config: config, source: weights.path, names: file.names) { name in
            guard names.contains(name) else { return nil }
            return (try file.entry(name).shape, { try file.floats(name) })
        }
        return parameters
    }
}

private extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

extension Workspace {
    public func checkpointsFolder(run: String) -> URL { self.run(run).appendingPathComponent("checkpoints") }

    /// Run names under `runs/`, sorted.
    public func runNames() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: runs.path)) ?? []
        return names.filter { !$0.hasPrefix(".") && isDirectory(run($0)) }.sorted()
    }

    /// Complete checkpoints of a run, lowest step first.
    public func checkpoints(run name: String) -> [CheckpointRef] {
        let folder = checkpointsFolder(run: name)
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return entries.compactMap { entry -> CheckpointRef? in
            guard let step = CheckpointRef.step(ofFolderName: entry) else { return nil }
            return CheckpointRef(run: name, step: step, folder: folder.appendingPathComponent(entry))
        }.sorted { $0.step < $1.step }
    }

    /// The newest checkpoint of the run that saved most recently (by the modification time of
    /// its newest checkpoint's `trainer.json`, else of its weights), or nil when there is none.
    public func latestCheckpoint() -> CheckpointRef? {
        var best: (ref: CheckpointRef, time: Date)? = nil
        for name in runNames() {
            guard let newest = checkpoints(run: name).last else { continue }
            let time = modificationTime(newest.trainerState) ?? modificationTime(newest.weights) ?? .distantPast
            if best == nil || time > best!.time { best = (newest, time) }
        }
        return best?.ref
    }

    /// A checkpoint named on the command line: a path to a checkpoint folder, a run name (its
    /// newest checkpoint), or `RUN/step-N`.
    public func resolveCheckpoint(_ spec: String) throws -> CheckpointRef {
        let asPath = URL(fileURLWithPath: spec)
        if isDirectory(asPath), let step = CheckpointRef.step(ofFolderName: asPath.lastPathComponent) {
            let run = asPath.deletingLastPathComponent().deletingLastPathComponent().lastPathComponent
            return CheckpointRef(run: run, step: step, folder: asPath.standardizedFileURL)
        }
        let parts = spec.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        if parts.count == 1, isDirectory(run(parts[0])) {
            guard let newest = checkpoints(run: parts[0]).last else {
                throw CheckpointError("run '\(parts[0])' in \(runs.path) has no checkpoint yet")
            }
            return newest
        }
        if parts.count == 2, let step = CheckpointRef.step(ofFolderName: parts[1]),
           let found = checkpoints(run: parts[0]).first(where: { $0.step == step }) {
            return found
        }
        let known = runNames()
        throw CheckpointError("no checkpoint '\(spec)': expected a checkpoint folder (…/checkpoints/step-N), a run name or RUN/step-N; runs in \(runs.path): \(known.isEmpty ? "none" : known.joined(separator: ", "))")
    }

    private func isDirectory(_ url: URL) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) && isDir.boolValue
    }

    private func modificationTime(_ url: URL) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: url.path))?[.modificationDate] as? Date
    }
}

/// A checkpoint that cannot be found or read, saying what was expected and found.
public struct CheckpointError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "checkpoint: \(message)" }
}
