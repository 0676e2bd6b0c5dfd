import Foundation
import Sampling
import Testing
import ModelIO
import TestSupport
import Transformer
@testable import TreeRPO

/// The training loop on the bundled model: resume, kills, checkpoints, the NaN guard. Whether
/// it learns is `LearningTests`.
@Suite(.serialized) struct TrainerTests {
    @Test func resumedRunEndsBitIdenticalToAnUninterruptedOne() throws {
        let root = try BundledModel.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let ws = try BundledModel.workspace(in: root)
        let config = BundledModel.smallConfig(steps: 4)

        let straight = try Trainer(workspace: ws, config: config, runName: "straight", resume: false)
        try straight.run()

        let first = try Trainer(workspace: ws, config: config, runName: "stopped", resume: false)
        try first.step()
        try first.step()
        let resumed = try Trainer(workspace: ws, config: TrainingConfig(), runName: "stopped", resume: true)
        #expect(resumed.nextStep == 2)
        #expect(resumed.config == config, "a resumed run must use its saved config")
        try resumed.run()

        #expect(BundledModel.bits(resumed.model.parameters) == BundledModel.bits(straight.model.parameters))
        #expect(BundledModel.bits(straight.model.parameters) != BundledModel.bits(try WorkspaceModel.load(ws).parameters),
                "training changed nothing")
        let a = try StepMetrics.read(straight.metricsFile), b = try StepMetrics.read(resumed.metricsFile)
        #expect(a.map(\.step) == [0, 1, 2, 3] && b.map(\.step) == [0, 1, 2, 3])
        #expect(a.map(\.loss) == b.map(\.loss))
        // Every step counts its FLOPs (StepWorkTests checks the counts by hand), the same resumed.
        #expect(a.allSatisfy { ($0.flopsSampling ?? 0) > 0 && ($0.flopsTraining ?? -1) >= 0 })
        #expect(a.map(\.flopsSampling) == b.map(\.flopsSampling) && a.map(\.flopsTraining) == b.map(\.flopsTraining))
        // Only the newest `keepCheckpoints` remain, and the final one loads as the run's weights.
        #expect(ws.checkpoints(run: "stopped").map(\.step) == [3, 4])
        let final = try ws.checkpoints(run: "stopped").last!.loadParameters(config: resumed.model.config)
        #expect(BundledModel.bits(final) == BundledModel.bits(straight.model.parameters))
    }

    @Test func existingRunIsNotOverwritten() throws {
        let root = try BundledModel.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let ws = try BundledModel.workspace(in: root)
        _ = try Trainer(workspace: ws, config: BundledModel.smallConfig(steps: 1), runName: "r", resume: false)
        #expect(throws: TrainingError.self) {
            _ = try Trainer(workspace: ws, config: BundledModel.smallConfig(steps: 1), runName: "r", resume: false)
        }
        #expect(throws: TrainingError.self) {
            _ = try Trainer(workspace: ws, config: BundledModel.smallConfig(steps: 1), runName: "absent", resume: true)
        }
    }

    /// A checkpoint write cut short leaves a hidden temporary folder: readers skip it, the
    /// previous checkpoint still loads, and a resumed run deletes the leftover.
    @Test func partialCheckpointWriteLeavesThePreviousOneLoadable() throws {
        let root = try BundledModel.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let ws = try BundledModel.workspace(in: root)
        let trainer = try Trainer(workspace: ws, config: BundledModel.smallConfig(steps: 3), runName: "r", resume: false)
        try trainer.step()
        let folder = ws.checkpointsFolder(run: "r")
        let partial = folder.appendingPathComponent(".step-00000002.tmp-99999")
        try FileManager.default.createDirectory(at: partial, withIntermediateDirectories: true)
        try Data(repeating: 7, count: 100).write(to: partial.appendingPathComponent(CheckpointRef.modelFile))
        #expect(ws.checkpoints(run: "r").map(\.step) == [1])
        #expect(ws.latestCheckpoint()?.step == 1)
        _ = try ws.latestCheckpoint()!.loadParameters(config: trainer.model.config)
        let resumed = try Trainer(workspace: ws, config: TrainingConfig(), runName: "r", resume: true)
        #expect(resumed.nextStep == 1)
        #expect(!FileManager.default.fileExists(atPath: partial.path))
    }

    /// SIGKILL at seeded random moments (sampling, training or a checkpoint write), resume
    /// after each kill, and end bit-identical to an uninterrupted run.
    @Test func killedAndResumedRunEndsBitIdentical() throws {
        let root = try BundledModel.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let ws = try BundledModel.workspace(in: root)
        let exe = try Repository.treerpoExecutable()
        let args = ["finetune", "--workspace", ws.root.path, "--task", "arithmetic", "--depth", "2", "--branching", "2",
                    "--step-tokens", "12", "--max-response-tokens", "64", "--prompts-per-step", "2", "--steps", "6",
                    "--lr", "5e-4", "--checkpoint-every", "1", "--tree-dump-every", "0", "--tau", "0", "--seed", "11",
                    "--threads", "1", "--json"]
        func launch(_ extra: [String]) throws -> Process {
            let p = Process()
            p.executableURL = exe
            p.arguments = args + extra
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            return p
        }
        let reference = try launch(["--run", "reference"])
        reference.waitUntilExit()
        #expect(reference.terminationStatus == 0)

        var rng = SplitMix64(seed: 2026)
        var p = try launch(["--run", "killed"])
        var kills = 0
        while kills < 3 {
            usleep(UInt32(200_000 + Int(rng.next() % 1_200_000)))
            guard p.isRunning else { break }
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            kills += 1
            // Whatever the moment, the newest complete checkpoint (if any) loads.
            if let last = ws.checkpoints(run: "killed").last {
                _ = try last.loadParameters(config: try WorkspaceModel.load(ws).config)
            }
            p = try launch(["--run", "killed"] + (FileManager.default.fileExists(atPath: ws.run("killed").appendingPathComponent("config.json").path) ? ["--resume"] : []))
        }
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        #expect(kills >= 1, "the run finished before the first kill; the test proved nothing")
        let config = try WorkspaceModel.load(ws).config
        let a = try ws.checkpoints(run: "reference").last!, b = try #require(ws.checkpoints(run: "killed").last)
        #expect(a.step == 6 && b.step == 6)
        let trained = BundledModel.bits(try a.loadParameters(config: config))
        #expect(trained == BundledModel.bits(try b.loadParameters(config: config)))
        #expect(trained != BundledModel.bits(try WorkspaceModel.load(ws).parameters), "training changed nothing")
    }

    @Test func nonFiniteLossStopsBeforeTheUpdateNamingTheStep() throws {
        let root = try BundledModel.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let ws = try BundledModel.workspace(in: root)
        let loaded = try WorkspaceModel.load(ws)
        var tree = RolloutTree(question: "q", reference: "1", promptTokens: [1, 2, 3])
        tree.addChild(of: 0, tokens: [4, 5], logProbs: [0, 0], finishReason: .eos, reward: 1)
        tree.addChild(of: 0, tokens: [6], logProbs: [0], finishReason: .eos, reward: 0)
        tree[1].advantage = 1
        tree[2].advantage = -1
        let packed = TreePacking.pack([tree], indices: [0], weights: TreePacking.weights([tree], aggregation: .tokenMean))
        let updater = PolicyUpdater(model: loaded.model, reference: nil, optimizer: AdamW(parameters: loaded.parameters))
        // Poison one weight: the forward yields NaN logits, so the loss is NaN.
        let name = loaded.config.parameterSpecs.first { $0.name.hasSuffix("input_layernorm.weight") }!.name
        loaded.parameters[name][0] = .nan
        let before = BundledModel.bits(loaded.parameters)
        #expect {
            _ = try updater.update([packed], settings: PolicyLossSettings(), epochs: 1, maxGradNorm: 1, learningRate: 1e-3, step: 17)
        } throws: { error in
            "\(error)".contains("step 17") && "\(error)".contains("stopped before updating")
        }
        #expect(BundledModel.bits(loaded.parameters) == before, "the weights must not change")
    }
}
