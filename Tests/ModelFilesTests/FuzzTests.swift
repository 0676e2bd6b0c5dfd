import Foundation
import Testing
@testable import ModelFiles

/// Mutated fixtures (seeded bit flips, truncations, length/varint edits, inserted bytes) must
/// give a ModelFileError or a valid result, never a crash or an out-of-bounds read.
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

    /// Reads everything readable from a parsed model; errors are fine, crashes are not.
    static func exercise(_ model: ONNXModel) {
        for tensor in model.initializers {
            _ = try? tensor.floats()
            _ = try? tensor.int64s()
        }
        for node in model.nodes {
            _ = try? node.constantValue()
            _ = node.metadata
        }
        _ = try? model.serializedData()
    }

    @Test("mutated ONNX files", arguments: ["tiny.onnx", "external.onnx"])
    func onnx(_ name: String) throws {
        let original = try Fixtures.data(name)
        var rng = SeededGenerator(seed: 0x0DDC_0FFE + UInt64(name.count))
        var parsed = 0, refused = 0
        for _ in 0..<1500 {
            let data = Self.mutate(original, &rng)
            do {
                Self.exercise(try ONNXModel(serializedData: data, file: name, directory: Fixtures.directory))
                parsed += 1
            } catch is ModelFileError {
                refused += 1
            }
        }
        #expect(parsed + refused == 1500)
        print("fuzz \(name): \(parsed) parsed, \(refused) refused")
    }

    @Test("mutated safetensors files")
    func safetensors() throws {
        let original = try Fixtures.data("tensors.safetensors")
        var rng = SeededGenerator(seed: 42)
        var parsed = 0, refused = 0
        for _ in 0..<2000 {
            do {
                let file = try SafeTensorsFile(data: Self.mutate(original, &rng), file: "fuzz.safetensors")
                for name in file.names {
                    _ = try? file.floats(name)
                    _ = try? file.int64s(name)
                }
                parsed += 1
            } catch is ModelFileError {
                refused += 1
            }
        }
        #expect(parsed + refused == 2000)
        print("fuzz safetensors: \(parsed) parsed, \(refused) refused")
    }

    @Test("mutated config.json")
    func config() throws {
        let original = try Fixtures.data("config_llama.json")
        var rng = SeededGenerator(seed: 7)
        var parsed = 0, refused = 0
        for _ in 0..<500 {
            do {
                _ = try HFConfig(data: Self.mutate(original, &rng)).encoded()
                parsed += 1
            } catch is ModelFileError {
                refused += 1
            }
        }
        #expect(parsed + refused == 500)
    }
}
