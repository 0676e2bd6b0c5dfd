import Foundation
import Testing
import ModelFiles
@testable import Transformer

/// Mutated model files (bit flips, truncations, protobuf length-field edits; seeded) never crash
/// or hang the importer: each gives an error or a valid import.
@Suite struct ImportFuzzTests {
    /// SplitMix64: a fixed, seedable generator so failures reproduce.
    struct Rng {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
    }

    static func mutate(_ original: Data, _ rng: inout Rng) -> (Data, String) {
        var bytes = [UInt8](original)
        switch rng.below(3) {
        case 0:
            let flips = 1 + rng.below(8)
            for _ in 0..<flips { bytes[rng.below(bytes.count)] ^= UInt8(1 << rng.below(8)) }
            return (Data(bytes), "\(flips) bit flips")
        case 1:
            let length = rng.below(bytes.count)
            return (Data(bytes.prefix(length)), "truncated to \(length)")
        default:
            // A length-delimited field's tag (wire type 2) followed by its varint length: rewrite the length.
            var i = rng.below(bytes.count - 2)
            while i < bytes.count - 2, bytes[i] & 7 != 2 { i += 1 }
            let value = UInt8(truncatingIfNeeded: rng.next())
            if i + 1 < bytes.count { bytes[i + 1] = value }
            return (Data(bytes), "length byte at \(i + 1) set to \(value)")
        }
    }

    @Test(.timeLimit(.minutes(1)), arguments: [("llama-legacy-folded", 900), ("gpt2-external-data", 700), ("llama_equalnorms-dynamo-optimized", 400)])
    func mutatedONNXFilesGiveAnErrorOrAValidImport(fixture: String, cases: Int) throws {
        let folder = FixtureModels.folder(fixture)
        let original = try Data(contentsOf: folder.appendingPathComponent("model.onnx"))
        let config = try ImportSupport.config(of: fixture)
        var rng = Rng(state: 0x7EE_4B0 ^ UInt64(cases))
        var outcomes: [String: Int] = [:]
        for n in 0..<cases {
            let (data, how) = Self.mutate(original, &rng)
            do {
                let model = try ONNXModel(serializedData: data, file: "model.onnx", directory: folder)
                if n % 3 == 0 { _ = try? ConfigInference.infer(model, directory: folder) }
                let result = try ONNXImport.load(model, config: config, directory: folder)
                #expect(result.entries.count == config.parameterSpecs.count, "case \(n): \(how)")
                outcomes["imported", default: 0] += 1
            } catch let error as ImportError {
                #expect(!error.description.isEmpty)
                outcomes["ImportError.\(error.kind)", default: 0] += 1
            } catch let error as ModelFileError {
                #expect(!error.description.isEmpty)
                outcomes["ModelFileError.\(error.kind)", default: 0] += 1
            }
        }
        // Both outcomes occur: flips inside float data still import, broken structure does not.
        #expect(outcomes["imported", default: 0] > 0 && outcomes["imported", default: 0] < cases, "\(outcomes)")
    }

    @Test(.timeLimit(.minutes(1)))
    func mutatedSafetensorsGiveAnErrorOrAValidImport() throws {
        let folder = FixtureModels.folder("qwen2-hf")
        let original = try Data(contentsOf: folder.appendingPathComponent("model.safetensors"))
        let config = try ImportSupport.config(of: "qwen2-hf")
        var rng = Rng(state: 42)
        var imported = 0
        for _ in 0..<500 {
            var (data, _) = Self.mutate(original, &rng)
            // Aim most edits at the 8-byte length and the JSON header.
            if rng.below(2) == 0 {
                var bytes = [UInt8](original)
                bytes[rng.below(min(bytes.count, 4096))] = UInt8(truncatingIfNeeded: rng.next())
                data = Data(bytes)
            }
            do {
                let file = try SafeTensorsFile(data: data, file: "model.safetensors")
                let parameters = Parameters(specs: config.parameterSpecs)
                try CheckpointLoading.fill(parameters, config: config, source: "model.safetensors", names: file.names) { name in
                    guard let entry = try? file.entry(name) else { return nil }
                    return (entry.shape, { try file.floats(name) })
                }
                imported += 1
            } catch is ModelFileError {
            } catch is LoadError {
            }
        }
        #expect(imported < 500)
    }
}
