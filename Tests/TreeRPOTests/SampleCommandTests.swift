import Foundation
import Testing
import ModelIO
import TestSupport
@testable import TreeRPO

/// The built `treerpo` executable driven as a user would: `treerpo sample` on the bundled model
/// (imported into a temporary workspace) and `treerpo bench sample` on a committed fixture model,
/// both at minimal sizes. What the library computes is tested elsewhere; these check that the
/// commands parse their options, pass them through, print what they claim, and fail clearly.
@Suite struct SampleCommandTests {
    /// D = 2, branching 3,2, 2-token steps, 10-token budget: small enough to run in a second on
    /// the bundled model, deep enough that level-1 nodes branch (its answers are longer than 2 tokens).
    static func sampleArguments(_ ws: URL, seed: Int) -> [String] {
        ["sample", "--workspace", ws.path, "--prompt", "Question: 12 + 30 = ?\nAnswer:\n", "--depth", "2", "--branching", "3,2",
         "--step-tokens", "2", "--max-response-tokens", "10", "--temperature", "1.5", "--seed", "\(seed)", "--threads", "1", "--json"]
    }

    /// The JSON dump with the wall time (which differs run to run) removed.
    static func parse(_ text: String) throws -> [String: Any] {
        var object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text.prefix(200))")
        if var stats = object["stats"] as? [String: Any] {
            stats["wall_seconds"] = nil
            object["stats"] = stats
        }
        return object
    }

    @Test func sampleJSONHasTheRequestedShapeAndTheSameSeedGivesTheSameTree() throws {
        let root = try BundledModel.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let ws = try BundledModel.workspace(in: root).root

        let first = try TreerpoProgram.run(Self.sampleArguments(ws, seed: 7))
        #expect(first.status == 0, "treerpo sample failed: \(first.stderr)")
        let dump = try Self.parse(first.stdout)
        let nodes = try #require(dump["nodes"] as? [[String: Any]])
        let promptTokens = try #require(dump["prompt_tokens"] as? [Int])
        #expect(!promptTokens.isEmpty)

        // Shape: the root has 3 children; a depth-1 node either branched into exactly 2 (its
        // step ended at the boundary) or is a leaf (EOS or budget); depth-2 nodes are leaves.
        #expect((nodes[0]["children"] as? [Int])?.count == 3)
        var branched = 0, leaves = 0
        for (i, n) in nodes.enumerated() {
            let depth = try #require(n["depth"] as? Int), children = try #require(n["children"] as? [Int])
            let tokens = try #require(n["tokens"] as? [Int]), logProbs = try #require(n["log_probs"] as? [Double])
            #expect(n["index"] as? Int == i)
            #expect(tokens.count == logProbs.count && logProbs.allSatisfy { $0 <= 0 })
            if i == 0 { continue }
            let finish = n["finish_reason"] as? String
            #expect(depth == 1 || depth == 2, "node \(i) at depth \(depth)")
            if children.isEmpty {
                leaves += 1
                #expect(finish == "eos" || finish == "budget", "leaf \(i) finished by \(finish ?? "nil")")
            } else {
                branched += 1
                #expect(depth == 1 && children.count == 2 && finish == "stepLength" && tokens.count == 2, "node \(i): \(n)")
            }
            // The budget holds on every path: this step plus its parent's.
            let parent = try #require(n["parent"] as? Int)
            let parentTokens = (nodes[parent]["tokens"] as? [Int])?.count ?? 0
            #expect(parentTokens + tokens.count <= 10, "node \(i): path of \(parentTokens + tokens.count) tokens over the budget of 10")
        }
        #expect(branched >= 1, "no level-1 node branched; the shape check proved nothing")
        let stats = try #require(dump["stats"] as? [String: Any])
        #expect(stats["leaves"] as? Int == leaves)
        #expect(stats["computed_tokens"] as? Int == promptTokens.count + nodes.reduce(0) { $0 + (($1["tokens"] as? [Int])?.count ?? 0) } - leaves)

        // Same seed, same tree (token for token, log-prob for log-prob); another seed, another.
        let again = try TreerpoProgram.run(Self.sampleArguments(ws, seed: 7))
        #expect(again.status == 0)
        #expect(NSDictionary(dictionary: try Self.parse(again.stdout)).isEqual(to: dump), "same seed, different JSON")
        let other = try TreerpoProgram.run(Self.sampleArguments(ws, seed: 8))
        #expect(other.status == 0)
        #expect(!NSDictionary(dictionary: try Self.parse(other.stdout)).isEqual(to: dump), "seeds 7 and 8 gave the same tree")

        // The drawing (no --json) names every node's finish reason.
        let drawn = try TreerpoProgram.run(Array(Self.sampleArguments(ws, seed: 7).dropLast()))
        #expect(drawn.status == 0)
        #expect(drawn.stdout.contains("step end") && drawn.stdout.contains("\(leaves) leaves"), "\(drawn.stdout)")
    }

    @Test(arguments: [
        (["--branching", "2,0"], "--branching"),
        (["--branching", "2,2,2"], "--branching"),
        (["--depth", "0"], "--depth"),
        (["--top-p", "1.5"], "--top-p"),
        (["--max-memory", "lots"], "--max-memory"),
    ])
    func badOptionFailsNamingIt(option: [String], named: String) throws {
        let outcome = try TreerpoProgram.run(["sample", "--workspace", "/nonexistent", "--prompt", "x", "--depth", "2"] + option)
        #expect(outcome.status != 0)
        #expect(outcome.stderr.contains(named), "stderr: \(outcome.stderr)")
        #expect(outcome.stdout.isEmpty)
    }

    @Test func sampleWithoutAWorkspaceSaysWhatIsMissing() throws {
        let outcome = try TreerpoProgram.run(["sample", "--workspace", "/nonexistent-treerpo-ws", "--prompt", "x"])
        #expect(outcome.status != 0)
        #expect(outcome.stderr.contains("/nonexistent-treerpo-ws/base") && outcome.stderr.contains("treerpo import"), "stderr: \(outcome.stderr)")
    }

    /// `bench sample` at minimal sizes on the committed Qwen2 fixture (vocab 128, 64 positions):
    /// both sides run, the same number of answers, and the tree computes each token once.
    @Test func benchSampleRunsBothSidesOnATinyModel() throws {
        let model = BundledModel.repoRoot.appendingPathComponent("Fixtures/models/qwen2-hf")
        let outcome = try TreerpoProgram.run(["bench", "sample", "--model", model.path, "--prompts", "2", "--prompt-tokens", "3",
                                    "--depth", "2", "--branching", "2", "--step-tokens", "2", "--max-response-tokens", "6",
                                    "--rounds", "1", "--threads", "1"])
        #expect(outcome.status == 0, "bench sample failed: \(outcome.stderr)")
        let lines = outcome.stdout.split(separator: "\n").map(String.init)
        func row(_ name: String) -> [String]? {
            lines.first { $0.hasPrefix(name + " ") }?.split(separator: " ").map(String.init)
        }
        // 2 prompts x 2 x 2 leaves of 6 tokens: tree draws 2 x (2 x 2 + 4 x 4) = 40, flat 8 x 6 = 48.
        let tree = try #require(row("tree"), "\(outcome.stdout)"), flat = try #require(row("flat"), "\(outcome.stdout)")
        #expect(tree[1] == "8" && flat[1] == "8", "answers: tree \(tree[1]), flat \(flat[1])")
        #expect(tree[4] == "40" && flat[4] == "48", "drawn tokens: tree \(tree[4]), flat \(flat[4])")
        #expect(outcome.stdout.contains("no recomputation: computed 38 == prompts 6 + step tokens 40 - leaves 8"), "\(outcome.stdout)")
        #expect(outcome.stdout.contains("(each leaf's last token is never fed): yes"))
        #expect(outcome.stdout.contains("per-token throughput, tree / flat (drawn tokens/s): decode only"))
    }
}
