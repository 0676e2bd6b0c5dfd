import Foundation
import Testing
@testable import ModelFiles

/// Mutated fixtures (seeded bit flips, truncations, length/varint edits, inserted bytes) must
/// give a valid result or a ModelFileError that names the file, never another error type, a
/// crash or an out-of-bounds read. Every read of a parsed file is checked the same way (no `try?`).
@Suite("fuzz")
struct FuzzTests {
    static func mutate(_ original: Data, _ rng: inout SeededGenerator) -> Data {
        var bytes = [UInt8](original)
        switch Int.random(in: 0..<5, using: &rng) {
        case 0:  // bit flips
            for _ in 0..<Int.random(in: 1...4, using: &rng) where !bytes.isEmpty {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
            }
        case 1:  // truncation
            bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &rng)))
        case 2:  // length edits in the first bytes (safetensors header length, protobuf tags/lengths)
            let i = Int.random(in: 0..<min(16, bytes.count), using: &rng)
            bytes[i] = [0x00, 0x7F, 0x80, 0xFF, bytes[i] &+ 1, bytes[i] &- 1].randomElement(using: &rng)!
        case 3:  // random byte overwrite anywhere
            for _ in 0..<Int.random(in: 1...8, using: &rng) {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
        default:  // insertion or deletion of a run
            let i = Int.random(in: 0..<bytes.count, using: &rng)
            if Bool.random(using: &rng) {
                bytes.insert(contentsOf: (0..<Int.random(in: 1...8, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }, at: i)
            } else {
                bytes.removeSubrange(i..<min(bytes.count, i + Int.random(in: 1...8, using: &rng)))
            }
        }
        return Data(bytes)
    }

    /// What one mutated input did: parsed, or refused with a `ModelFileError` of the right shape.
    /// Any other error type, or an error that does not name one of `files` in front of a
    /// non-empty message, is recorded as a failure: callers see only our own error types, and
    /// the message says which file.
    struct Outcomes {
        let files: Set<String>
        var parsed = 0, refused = 0
        var kinds: [ModelFileError.Kind: Int] = [:]

        init(files: Set<String>) { self.files = files }

        /// Runs `body`; true when it returned, false when it threw (the error checked).
        @discardableResult
        mutating func run(_ what: @autoclosure () -> String, sourceLocation: SourceLocation = #_sourceLocation,
                          _ body: () throws -> Void) -> Bool {
            do {
                try body()
                return true
            } catch let error as ModelFileError {
                kinds[error.kind, default: 0] += 1
                let shaped = files.contains(error.file) && error.description.hasPrefix("\(error.file): ")
                    && !error.message.isEmpty && error.subject.map { !$0.isEmpty } ?? true
                if !shaped {
                    Issue.record("\(what()): error does not name one of \(files.sorted()) in front of a message: \(error)",
                                 sourceLocation: sourceLocation)
                }
            } catch {
                Issue.record("\(what()): \(type(of: error)) is not a ModelFileError: \(error)", sourceLocation: sourceLocation)
            }
            return false
        }

        /// Counts a whole input: parsed (every read after it may still refuse) or refused.
        mutating func input(_ what: @autoclosure () -> String, sourceLocation: SourceLocation = #_sourceLocation,
                            _ body: () throws -> Void) {
            if run(what(), sourceLocation: sourceLocation, body) { parsed += 1 } else { refused += 1 }
        }

        /// Both outcomes occurred: a fuzzer whose mutations all parse, or all fail at the first
        /// byte, tests nothing.
        func expectBoth(_ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(parsed > 0 && refused > 0, "\(what): \(parsed) parsed, \(refused) refused", sourceLocation: sourceLocation)
            print("fuzz \(what): \(parsed) parsed, \(refused) refused; refusals by kind \(kinds.map { "\($0.key.rawValue) \($0.value)" }.sorted())")
        }
    }

    /// Reads everything readable from a parsed model; each read may refuse, with our error type.
    static func exercise(_ model: ONNXModel, _ outcomes: inout Outcomes, _ n: Int) {
        for tensor in model.initializers {
            outcomes.run("case \(n) floats of \(tensor.name)") { _ = try tensor.floats() }
            outcomes.run("case \(n) int64s of \(tensor.name)") { _ = try tensor.int64s() }
        }
        for node in model.nodes {
            outcomes.run("case \(n) constant of \(node.name)") { _ = try node.constantValue() }
            _ = node.metadata
        }
        outcomes.run("case \(n) re-serialise") { _ = try model.serializedData() }
    }

    @Test("mutated ONNX files", arguments: ["tiny.onnx", "external.onnx"])
    func onnx(_ name: String) throws {
        let original = try Fixtures.data(name)
        var rng = SeededGenerator(seed: 0x0DDC_0FFE + UInt64(name.count))
        var outcomes = Outcomes(files: [name, "external.bin"])
        for n in 0..<1500 {
            let data = Self.mutate(original, &rng)
            var model: ONNXModel?
            outcomes.input("\(name) case \(n)") { model = try ONNXModel(serializedData: data, file: name, directory: Fixtures.directory) }
            if let model { Self.exercise(model, &outcomes, n) }
        }
        outcomes.expectBoth(name)
    }

    @Test("mutated safetensors files")
    func safetensors() throws {
        let original = try Fixtures.data("tensors.safetensors")
        var rng = SeededGenerator(seed: 42)
        var outcomes = Outcomes(files: ["fuzz.safetensors"])
        for n in 0..<2000 {
            let data = Self.mutate(original, &rng)
            var parsed: SafeTensorsFile?
            outcomes.input("safetensors case \(n)") { parsed = try SafeTensorsFile(data: data, file: "fuzz.safetensors") }
            guard let file = parsed else { continue }
            for name in file.names {
                outcomes.run("case \(n) floats of \(name)") { _ = try file.floats(name) }
                outcomes.run("case \(n) int64s of \(name)") { _ = try file.int64s(name) }
            }
        }
        outcomes.expectBoth("safetensors")
    }

    @Test("mutated config.json")
    func config() throws {
        let original = try Fixtures.data("config_llama.json")
        var rng = SeededGenerator(seed: 7)
        var outcomes = Outcomes(files: ["config.json"])
        for n in 0..<500 {
            let data = Self.mutate(original, &rng)
            outcomes.input("config case \(n)") { _ = try HFConfig(data: data).encoded() }
        }
        outcomes.expectBoth("config.json")
    }
}
