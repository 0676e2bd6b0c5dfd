import Foundation
import Testing
import TestSupport
import ModelFiles
@testable import ModelIO
@testable import Transformer

/// Mutated model files (bit flips, truncations, protobuf length-field edits; seeded) never crash
/// or hang the importer: each gives a valid import or one of the library's own errors naming
/// the file (no `try?`: every error is checked).
@Suite struct ImportFuzzTests {
    typealias Rng = TestRNG

    /// A refusal must be one of the library's own error types with a message that names the
    /// file (or, for a load, the source) in front: records an issue otherwise.
    static func expectOwnError(_ error: Error, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) -> String {
        switch error {
        case let e as ImportError:
            #expect(!e.file.isEmpty && e.description.hasPrefix("\(e.file): ") && !e.message.isEmpty,
                    "\(what): ImportError without a file in front of its message: \(e)", sourceLocation: sourceLocation)
            return "ImportError.\(e.kind)"
        case let e as ModelFileError:
            #expect(!e.file.isEmpty && e.description.hasPrefix("\(e.file): ") && !e.message.isEmpty,
                    "\(what): ModelFileError without a file in front of its message: \(e)", sourceLocation: sourceLocation)
            return "ModelFileError.\(e.kind)"
        case let e as LoadError:
            #expect(e.description.hasPrefix("\(e.source): parameter '\(e.parameter)'") && !e.parameter.isEmpty,
                    "\(what): LoadError without source and parameter: \(e)", sourceLocation: sourceLocation)
            return "LoadError"
        default:
            Issue.record("\(what): \(type(of: error)) is not one of the library's error types: \(error)", sourceLocation: sourceLocation)
            return "foreign \(type(of: error))"
        }
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
        var rng = Rng(seed: 0x7EE_4B0 ^ UInt64(cases))
        var outcomes: [String: Int] = [:]
        for n in 0..<cases {
            let (data, how) = Self.mutate(original, &rng)
            do {
                let model = try ONNXModel(serializedData: data, file: "model.onnx", directory: folder)
                if n % 3 == 0 {
                    do { _ = try ConfigInference.infer(model, directory: folder) } catch {
                        outcomes["config: " + Self.expectOwnError(error, "case \(n) (\(how)), config inference"), default: 0] += 1
                    }
                }
                let result = try ONNXImport.load(model, config: config, directory: folder)
                #expect(result.entries.count == config.parameterSpecs.count, "case \(n): \(how)")
                outcomes["imported", default: 0] += 1
            } catch {
                outcomes[Self.expectOwnError(error, "case \(n) (\(how))"), default: 0] += 1
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
        var rng = Rng(seed: 42)
        var imported = 0, refused: [String: Int] = [:]
        for n in 0..<500 {
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
                    guard file.names.contains(name) else { return nil }
                    return (try file.entry(name).shape, { try file.floats(name) })
                }
                imported += 1
            } catch {
                refused[Self.expectOwnError(error, "case \(n)"), default: 0] += 1
            }
        }
        #expect(imported > 0 && imported < 500, "\(imported) imported, refused: \(refused)")
    }
}
