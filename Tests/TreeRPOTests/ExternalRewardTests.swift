import Foundation
import Testing
@testable import TreeRPO

/// The external-command reward against tiny shell scripts written to a temporary directory.
@Suite struct ExternalRewardTests {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("treerpo-reward-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// Writes an executable `/bin/sh` script and returns the command that runs it.
    func script(_ name: String, _ body: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try ("#!/bin/sh\n" + body).write(to: url, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
        return url.path
    }

    let queries = [
        RewardQuery(question: "What is 2+2?", response: "The answer is 4.", reference: "4"),
        RewardQuery(question: "Say \"hi\"\nplease", response: "hi", reference: "hi"),
        RewardQuery(question: "q3", response: "r3", reference: "x"),
    ]

    func error(_ command: String) -> RewardError? {
        do {
            _ = try ExternalCommandReward(command: command, timeout: 20).rewards(queries)
            return nil
        } catch let e as RewardError {
            return e
        } catch {
            Issue.record("not a RewardError: \(error)")
            return nil
        }
    }

    @Test func scoresOneNumberPerLine() throws {
        // Score = 1 when the JSON line mentions "The answer is 4", else the line number / 10;
        // also copies stdin to a file so the test can check what was sent.
        let seen = directory.appendingPathComponent("seen.jsonl").path
        let command = try script("score.sh", """
            tee \(seen) | awk '{ if (index($0, "The answer is 4")) print 1; else printf "%.1f\\n", NR / 10 }'
            """)
        let rewards = try ExternalCommandReward(command: command).rewards(queries)
        #expect(rewards == [1, 0.2, 0.3])
        let lines = try String(contentsOfFile: seen, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3)
        let decoded = try lines.map { try JSONDecoder().decode(RewardQuery.self, from: Data($0.utf8)) }
        #expect(decoded == queries)
        #expect(try ExternalCommandReward(command: command).rewards([]) == [])
    }

    @Test func nonZeroExitNamesCommand() throws {
        let command = try script("fail.sh", "echo 'model not found' >&2\nexit 3\n")
        let e = try #require(error(command))
        #expect(e.description.contains(command))
        #expect(e.description.contains("status 3"))
        #expect(e.description.contains("model not found"))
    }

    @Test func garbageOutput() throws {
        let command = try script("garbage.sh", "cat >/dev/null\necho 1\necho banana\necho 0\n")
        let e = try #require(error(command))
        #expect(e.description.contains(command))
        #expect(e.description.contains("line 2"))
        #expect(e.description.contains("banana"))
    }

    @Test func wrongCount() throws {
        let command = try script("short.sh", "cat >/dev/null\necho 1\necho 0\n")
        let e = try #require(error(command))
        #expect(e.description.contains("printed 2 numbers for 3 queries"))
    }

    @Test func nonFiniteIsGarbage() throws {
        let command = try script("nan.sh", "cat >/dev/null\necho 1\necho nan\necho 0\n")
        #expect(try #require(error(command)).description.contains("\"nan\""))
    }

    @Test func exitWithoutReadingInput() throws {
        // Exits before reading stdin: must be an error, not a SIGPIPE crash.
        let e = try #require(error("exit 0"))
        #expect(e.description.contains("printed 0 numbers"))
    }

    @Test func timeout() throws {
        do {
            _ = try ExternalCommandReward(command: "sleep 5", timeout: 0.3).rewards(queries)
            Issue.record("expected a timeout")
        } catch let e as RewardError {
            #expect(e.description.contains("did not finish"))
        }
    }
}
