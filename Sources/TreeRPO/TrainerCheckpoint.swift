import Foundation
import ModelFiles
import ModelIO
import Transformer

/// `trainer.json` of a checkpoint: what, together with the weights and the AdamW moments, lets a
/// run continue exactly. Sampling seeds and the data order are functions of (seed, step), so no
/// random-generator state needs saving beyond the step.
public struct TrainerState: Codable, Equatable, Sendable {
    public var format = "treerpo-trainer-state"
    public var version = 1
    public var run: String
    /// Steps completed; the run continues with step `step` (0-based).
    public var step: Int
    /// AdamW's update count (steps x PPO epochs).
    public var optimizerStep: Int
    public var configDigest: String
    public var tokensSampledTotal: Int
    /// The data position after this step: `step * promptsPerStep` (recorded for people; the
    /// trainer recomputes it).
    public var dataPosition: Int
    public var savedAt: String
}

enum TrainerCheckpoint {
    /// Writes weights, moments and state into `checkpoints/.step-N.tmp-PID` and renames it to
    /// `step-N`, then removes all but the newest `keep` checkpoints of the run.
    static func save(_ parameters: Parameters, optimizer: AdamW, state: TrainerState, workspace: Workspace,
                     keep: Int) throws -> CheckpointRef {
        let folder = workspace.checkpointsFolder(run: state.run)
        let fm = FileManager.default
        try fm.createDirectory(at: folder, withIntermediateDirectories: true)
        let name = CheckpointRef.folderName(step: state.step)
        let temp = folder.appendingPathComponent(".\(name).tmp-\(ProcessInfo.processInfo.processIdentifier)")
        try? fm.removeItem(at: temp)
        try fm.createDirectory(at: temp, withIntermediateDirectories: false)
        do {
            try SafeTensorsWriter.write(entries(parameters) { UnsafePointer(parameters.base + $0) }, to: temp.appendingPathComponent(CheckpointRef.modelFile),
                                        metadata: ["format": "pt", "treerpo_step": "\(state.step)"])
            let moments = try entries(parameters, prefix: "m.") { UnsafePointer(optimizer.m + $0) }
                + entries(parameters, prefix: "v.") { UnsafePointer(optimizer.v + $0) }
            try SafeTensorsWriter.write(moments, to: temp.appendingPathComponent(CheckpointRef.optimizerFile),
                                        metadata: ["optimizer_step": "\(optimizer.step)"])
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            try encoder.encode(state).write(to: temp.appendingPathComponent(CheckpointRef.stateFile))
            let target = folder.appendingPathComponent(name)
            if fm.fileExists(atPath: target.path) { try fm.removeItem(at: target) }
            try fm.moveItem(at: temp, to: target)
        } catch {
            try? fm.removeItem(at: temp)
            throw error
        }
        let all = workspace.checkpoints(run: state.run)
        for old in all.dropLast(keep) { try? fm.removeItem(at: old.folder) }
        return CheckpointRef(run: state.run, step: state.step, folder: folder.appendingPathComponent(name))
    }

    private static func entries(_ parameters: Parameters, prefix: String = "",
                                _ pointer: (Int) -> UnsafePointer<Float>) throws -> [SafeTensorsWriter.Entry] {
        try parameters.entries.map { e in
            // No copy: a copy of the moments alone would add 1 GB to a 135M model's peak memory.
            // The Data borrows the live buffers and is written before `save` returns.
            let data = Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: pointer(e.offset)),
                            count: e.spec.count * MemoryLayout<Float>.size, deallocator: .none)
            return try SafeTensorsWriter.Entry(name: prefix + e.spec.name, dtype: .f32, shape: e.spec.shape, data: data)
        }
    }

    /// Restores weights into `parameters` and moments into `optimizer`; returns the state.
    static func load(_ ref: CheckpointRef, into parameters: Parameters, optimizer: AdamW, config: ModelConfig) throws -> TrainerState {
        let state: TrainerState
        do {
            state = try JSONDecoder().decode(TrainerState.self, from: Data(contentsOf: ref.trainerState))
        } catch {
            throw CheckpointError("\(ref.trainerState.path): cannot read the trainer state (\(PlainErrorText.describe(error)))")
        }
        let weights = try ref.loadParameters(config: config)
        parameters.copy(from: weights)
        let file = try SafeTensorsFile(contentsOf: ref.optimizerState)
        var m = [Float](repeating: 0, count: parameters.count), v = m
        for e in parameters.entries {
            for (prefix, target) in [("m.", 0), ("v.", 1)] {
                let name = prefix + e.spec.name
                let values = try file.floats(name)
                guard values.count == e.spec.count else {
                    throw CheckpointError("\(ref.optimizerState.path): tensor '\(name)' expected \(e.spec.count) values, found \(values.count)")
                }
                if target == 0 {
                    m.replaceSubrange(e.offset..<(e.offset + e.spec.count), with: values)
                } else {
                    v.replaceSubrange(e.offset..<(e.offset + e.spec.count), with: values)
                }
            }
        }
        optimizer.load(step: state.optimizerStep, m: m, v: v)
        return state
    }
}
