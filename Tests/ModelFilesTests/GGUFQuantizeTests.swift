import Foundation
import Testing
@testable import ModelFiles

/// Our re-quantisation (used by the GGUF export) gives the bytes of the `gguf` package's
/// `quantize` for every type the package implements: gguf-quantize.gguf holds an F32 input
/// (random rows, a zero block, a constant block, a block of exact .5 ties) and the package's
/// output per type (tools/make_gguf_fixtures.py). The K-quants, which the package cannot
/// quantise, against worked blocks of llama.cpp's reference algorithm (tools/make_gguf_kquant_fixtures.py).
@Suite("GGUF quantisation")
struct GGUFQuantizeTests {
    @Test func everyTypeEqualsTheGGUFPackagesQuantize() throws {
        let file = try GGUFFile(contentsOf: Fixtures.url("gguf-quantize.gguf"))
        let input = try file.floats("input")
        #expect(input.count == 1024, "\(GGUFDequantizeTests.regenerate)")
        let types: [GGMLType] = [.f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1]
        for type in types {
            let info = try file.tensor(type.description)
            #expect(info.type == type)
            let expected = [UInt8](file.bytes(info))
            let ours = try input.withUnsafeBufferPointer { try GGUFQuantize.bytes($0, as: type) }
            let differing = zip(ours, expected).enumerated().filter { $0.element.0 != $0.element.1 }.map(\.offset)
            #expect(ours.count == expected.count && differing.isEmpty,
                    "\(type): \(differing.count) of \(expected.count) bytes differ from gguf.quantize, first at byte \(differing.first ?? -1) (block \((differing.first ?? 0) / (type.typeSize)))")
        }
        #expect(Set(types + [.f32] + Self.kQuants) == Set(GGUFQuantize.quantizable))
    }

    static let kQuants: [GGMLType] = [.q4_K, .q5_K, .q6_K]
    static let regenerateK = "regenerate with: .venv-tools/bin/python tools/make_gguf_kquant_fixtures.py"

    /// The K-quants, which the `gguf` package cannot quantise, against worked blocks from an
    /// independent numpy implementation of llama.cpp's reference algorithm (gguf-quantize-k.gguf:
    /// eight super-blocks reaching zero, constant, all-positive, tie, outlier and f16-underflow
    /// cases). The same blocks read back by the package's own `dequantize` (stored beside them)
    /// equal our dequantiser bit for bit, and the round trip stays within the type's error.
    @Test func kQuantsEqualTheReferenceAlgorithmsWorkedBlocks() throws {
        let file = try GGUFFile(contentsOf: Fixtures.url("gguf-quantize-k.gguf"))
        let input = try file.floats("input")
        #expect(input.count == 2048, "\(Self.regenerateK)")
        // Round-trip RMS error / RMS(input) measured on this input (tools script prints them):
        // Q4_K 0.0556, Q5_K 0.0184, Q6_K 0.0116; the bounds leave 10 %.
        let bound: [GGMLType: Double] = [.q4_K: 0.062, .q5_K: 0.021, .q6_K: 0.013]
        for type in Self.kQuants {
            let info = try file.tensor(type.description)
            #expect(info.type == type, "\(Self.regenerateK)")
            let expected = [UInt8](file.bytes(info))
            let ours = try input.withUnsafeBufferPointer { try GGUFQuantize.bytes($0, as: type) }
            let differing = zip(ours, expected).enumerated().filter { $0.element.0 != $0.element.1 }.map(\.offset)
            #expect(ours.count == expected.count && differing.isEmpty,
                    "\(type): \(differing.count) of \(expected.count) bytes differ from the reference algorithm, first at byte \(differing.first ?? -1) (block \((differing.first ?? 0) / type.typeSize)); \(Self.regenerateK)")
            let reference = try file.floats("\(type.description).dequantized")
            var back = [Float](repeating: 0, count: input.count)
            try ours.withUnsafeBytes { raw in
                try back.withUnsafeMutableBufferPointer { try GGUFDequantize.floats(raw, type: type, count: input.count, into: $0.baseAddress!) }
            }
            #expect(back.map(\.bitPattern) == reference.map(\.bitPattern), "\(type): our dequantisation differs from gguf.quants.dequantize")
            var error = 0.0, energy = 0.0
            for i in 0..<input.count {
                error += Double(back[i] - input[i]) * Double(back[i] - input[i])
                energy += Double(input[i]) * Double(input[i])
            }
            let relative = (error / energy).squareRoot()
            #expect(relative < bound[type]!, "\(type): round-trip RMS error \(relative) of RMS(input)")
        }
    }

    @Test func aTypeWithoutAQuantiserIsRefusedNamingIt() {
        let values = [Float](repeating: 1, count: 256)
        expectModelFileError(["Q3_K", "Q6_K"], kind: .unsupported) {
            _ = try values.withUnsafeBufferPointer { try GGUFQuantize.bytes($0, as: .q3_K) }
        }
    }
}
