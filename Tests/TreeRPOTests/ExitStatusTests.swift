import Foundation
import Testing
import TestSupport
import ModelIO
@testable import TreeRPO

/// The built `treerpo` driven as a user would, checking what it exits with and prints when things
/// go wrong: 64 and the usage only for a wrong command line, 1 for bad input files, 2 for failures
/// while running; every message in plain words (no Foundation error domains, no Swift type names).
@Suite struct ExitStatusTests {
    /// What no message may contain: internals a user cannot act on.
    static let internals = ["NSCocoaErrorDomain", "CocoaError", "DecodingError", "JSONValue.", "Swift.", "USAGE:"]

    static func expectPlain(_ o: TreerpoProgram.Outcome, status: Int32, mentions: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(o.status == status, "exit \(o.status), expected \(status): \(o.stderr)", sourceLocation: sourceLocation)
        for word in internals {
            #expect(!o.stderr.contains(word), "stderr shows \(word): \(o.stderr)", sourceLocation: sourceLocation)
        }
        for word in mentions {
            #expect(o.stderr.contains(word), "stderr does not mention \(word): \(o.stderr)", sourceLocation: sourceLocation)
        }
    }

    @Test func aWrongCommandLineExits64WithTheUsage() throws {
        let o = try TreerpoProgram.run(["generate", "--prompt", "x", "--max-tokens", "0"])
        #expect(o.status == 64, "\(o.stderr)")
        #expect(o.stderr.contains("--max-tokens") && o.stderr.contains("Usage"), "\(o.stderr)")
    }

    @Test func aMissingModelFileExits1InPlainWords() throws {
        let root = try BundledModel.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let missing = root.appendingPathComponent("no-such-model.onnx").path
        let o = try TreerpoProgram.run(["import", missing, "--workspace", root.appendingPathComponent("ws").path])
        Self.expectPlain(o, status: 1, mentions: [missing])
        #expect(!o.stderr.contains("Usage"), "\(o.stderr)")
    }

    /// The import library names the setting (replacing the model); the command line adds its flags.
    @Test func aSecondImportNamesTheFlagsThatWouldReplaceTheModel() throws {
        let root = try BundledModel.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let ws = try BundledModel.workspace(in: root)
        let o = try TreerpoProgram.run(["import", try BundledModel.onnx().path, "--workspace", ws.root.path])
        Self.expectPlain(o, status: 1, mentions: ["found an imported model already", "replace it or choose another workspace (--replace, or another --workspace)"])
    }

    @Test func generateWithoutAnImportedModelExits1() throws {
        let root = try BundledModel.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let o = try TreerpoProgram.run(["generate", "--workspace", root.path, "--prompt", "x"])
        Self.expectPlain(o, status: 1, mentions: ["no imported model", "treerpo import"])
    }

    /// Weights that turn NaN in layer 1 (as a corrupted checkpoint would): generate, sample and
    /// eval used to exit 0 printing nothing, or report 0% without a word.
    @Test func nonFiniteLogitsStopGenerateSampleAndEvalNamingTheLayer() throws {
        let root = try BundledModel.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let ws = try BundledModel.workspace(in: root)
        try Self.poison(tensor: "model.layers.1.mlp.down_proj.weight", in: ws.baseWeights)
        let commands: [[String]] = [
            ["generate", "--prompt", "Question: 1 + 2 = ?\nAnswer:\n", "--max-tokens", "4"],
            ["sample", "--prompt", "Question: 1 + 2 = ?\nAnswer:\n", "--depth", "1", "--branching", "2", "--max-response-tokens", "4"],
            ["eval", "--base", "--data", "arithmetic", "--questions", "2", "--samples", "1", "--max-response-tokens", "4"],
        ]
        for command in commands {
            let o = try TreerpoProgram.run(command + ["--workspace", ws.root.path, "--threads", "1"])
            Self.expectPlain(o, status: 2, mentions: ["non-finite logits", "layer 1 (of 4"])
        }
    }

    /// A reward command that fails, and one that never answers within --reward-timeout: the run
    /// stops with exit 2 and no usage (it used to exit 64 with the usage banner).
    @Test func rewardCommandFailuresExit2AndTheTimeoutIsTheOneGiven() throws {
        let root = try BundledModel.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let ws = try BundledModel.workspace(in: root)
        let small = ["--workspace", ws.root.path, "--threads", "1", "--steps", "1", "--prompts-per-step", "1",
                     "--depth", "1", "--branching", "2", "--max-response-tokens", "8"]
        let failing = try TreerpoProgram.run(["finetune", "--run", "fails", "--reward-command", "exit 3"] + small)
        Self.expectPlain(failing, status: 2, mentions: ["exit 3"])
        #expect(!failing.stderr.contains("Usage"), "\(failing.stderr)")

        // The command would sleep 300 s: ending well before that shows the 1 s timeout acted (a
        // wide margin, because startup and model loading take tens of seconds on a loaded machine).
        let start = Date()
        let hanging = try TreerpoProgram.run(["finetune", "--run", "hangs", "--reward-command", "sleep 300", "--reward-timeout", "1"] + small)
        Self.expectPlain(hanging, status: 2, mentions: ["1.0 s"])
        #expect(Date().timeIntervalSince(start) < 150, "the 1 s timeout took \(Date().timeIntervalSince(start)) s")
    }

    /// A run killed before it saved its settings leaves a folder without config.json; --resume
    /// used to refuse it ("config.json does not exist") and now starts it over, saying so.
    @Test func resumingARunThatNeverSavedStartsItFresh() throws {
        let root = try BundledModel.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let ws = try BundledModel.workspace(in: root)
        try FileManager.default.createDirectory(at: ws.run("early"), withIntermediateDirectories: true)
        let o = try TreerpoProgram.run(["finetune", "--workspace", ws.root.path, "--run", "early", "--resume", "--threads", "1",
                              "--steps", "1", "--prompts-per-step", "1", "--depth", "1", "--branching", "2",
                              "--max-response-tokens", "8", "--json"])
        #expect(o.status == 0, "\(o.stderr)")
        #expect(o.stderr.contains("never saved its settings"), "\(o.stderr)")
        #expect(FileManager.default.fileExists(atPath: ws.run("early").appendingPathComponent("config.json").path))
    }

    /// The default response budget is lowered to fit a model with few positions (with a note); an
    /// explicit budget that cannot fit is still refused with the numbers.
    @Test func sampleDefaultsFitTheModelAndOnlyAnExplicitBudgetIsRefused() throws {
        let root = try BundledModel.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let ws = try BundledModel.workspace(in: root)
        let config = try String(contentsOf: ws.baseConfig, encoding: .utf8)
        let edited = config.replacing(try Regex(#""max_position_embeddings"\s*:\s*\d+"#), with: "\"max_position_embeddings\": 64")
        #expect(edited != config, "no max_position_embeddings in \(ws.baseConfig.path)")
        try edited.write(to: ws.baseConfig, atomically: true, encoding: .utf8)
        let prompt = ["--prompt", "Question: 1 + 2 = ?\nAnswer:\n", "--depth", "1", "--branching", "2", "--threads", "1"]
        let fits = try TreerpoProgram.run(["sample", "--workspace", ws.root.path] + prompt)
        #expect(fits.status == 0, "\(fits.stderr)")
        #expect(fits.stderr.contains("lowered from its default 256"), "\(fits.stderr)")
        let explicit = try TreerpoProgram.run(["sample", "--workspace", ws.root.path, "--max-response-tokens", "256"] + prompt)
        #expect(explicit.status != 0 && explicit.stderr.contains("64"), "\(explicit.stderr)")
    }

    /// A JSONL question far longer than the model's context used to fail inside the sampler as
    /// "need 37500029 positions", naming neither the file nor the question; now the data file
    /// and the question are named, and it is bad input (exit 1).
    @Test func aQuestionTooLongForTheModelIsNamedWithItsFile() throws {
        let root = try BundledModel.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let ws = try BundledModel.workspace(in: root)
        let data = root.appendingPathComponent("long.jsonl")
        let long = String(repeating: "7 + ", count: 3000) + "1"
        try Data("{\"question\": \"\(long)\", \"answer\": \"21001\"}\n".utf8).write(to: data)
        let o = try TreerpoProgram.run(["finetune", "--workspace", ws.root.path, "--data", data.path, "--run", "long", "--steps", "1",
                              "--prompts-per-step", "1", "--depth", "1", "--branching", "2", "--max-response-tokens", "8",
                              "--threads", "1"])
        Self.expectPlain(o, status: 1, mentions: [data.path, "training question 0", "positions"])
    }

    /// Writes NaN over one tensor of a safetensors file (header: 8-byte length, JSON, then data).
    static func poison(tensor name: String, in file: URL) throws {
        var data = try Data(contentsOf: file)
        let headerLength = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let header = try #require(try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + headerLength))) as? [String: Any])
        let entry = try #require(header[name] as? [String: Any], "no \(name) in \(file.path)")
        let offsets = try #require(entry["data_offsets"] as? [Int])
        let nan = withUnsafeBytes(of: Float.nan.bitPattern.littleEndian) { Data($0) }
        for at in stride(from: 8 + headerLength + offsets[0], to: 8 + headerLength + offsets[1], by: 4) {
            data.replaceSubrange(at..<(at + 4), with: nan)
        }
        try data.write(to: file)
    }
}

/// `sample` and `generate` load the workspace through `WorkspaceModel.load`, as `finetune` and
/// `eval` do: the same messages, each with the flag the command line adds to the setting.
@Suite struct SharedLoaderTests {
    @Test func sampleAndGenerateRefuseAWorkspaceWithoutATokenizerInTheLoadersWords() throws {
        let root = try BundledModel.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let ws = try BundledModel.workspace(in: root)
        try FileManager.default.removeItem(at: ws.baseTokenizer)
        for command in [["generate", "--prompt", "x"], ["sample", "--prompt", "x", "--depth", "1"], ["eval", "--base", "--data", "arithmetic", "--questions", "1"]] {
            let o = try TreerpoProgram.run(command + ["--workspace", ws.root.path, "--threads", "1"])
            // WorkspaceModel's message (sample and generate used to say "re-run `treerpo import`").
            ExitStatusTests.expectPlain(o, status: 1, mentions: [ws.baseTokenizer.path, "is missing; import the model with its tokenizer.json"])
        }
    }

    @Test func aMissingModelNamesTheWorkspaceFlag() throws {
        let root = try BundledModel.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        for command in [["generate", "--prompt", "x"], ["sample", "--prompt", "x"]] {
            let o = try TreerpoProgram.run(command + ["--workspace", root.path])
            ExitStatusTests.expectPlain(o, status: 1, mentions: ["no imported model", "treerpo import", "choose another workspace (--workspace)"])
        }
    }

    /// The memory refusal: the sampler's message names the memory limit, the command line adds
    /// --max-memory.
    @Test func theMemoryRefusalNamesTheFlagOnTheCommandLine() throws {
        let root = try BundledModel.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let ws = try BundledModel.workspace(in: root)
        let o = try TreerpoProgram.run(["sample", "--workspace", ws.root.path, "--prompt", "x", "--depth", "1",
                                         "--max-memory", "1KB", "--threads", "1"])
        ExitStatusTests.expectPlain(o, status: 2, mentions: ["over the memory limit", "or raise the memory limit (--max-memory)"])
    }
}

/// `--help` on the root and on every command prints the help on stdout and exits 0 (it once
/// printed "Error: CommandError(...)": the root's run throws ArgumentParser's help request).
@Suite struct HelpTests {
    @Test(arguments: [[], ["import"], ["generate"], ["sample"], ["finetune"], ["eval"], ["compare"], ["export"], ["report"], ["bench"], ["bench", "train"], ["diagnose"], ["diagnose", "gradient-snr"]])
    func helpPrintsUsageAndExitsZero(command: [String]) throws {
        let o = try TreerpoProgram.run(command + ["--help"])
        #expect(o.status == 0, "\(command) --help exited \(o.status): \(o.stderr)")
        #expect(o.stdout.contains("USAGE: treerpo"), "\(command) --help printed: \(o.stdout.prefix(300)) \(o.stderr.prefix(300))")
        #expect(!o.stderr.contains("Error"), "\(o.stderr)")
    }
}
