import Foundation
import Testing
@testable import ModelFiles

/// Our re-quantisation (used by the GGUF export) gives the bytes of the `gguf` package's
/// `quantize` for every type the package implements: gguf-quantize.gguf holds an F32 input
/// (random rows, a zero block, a constant block, a block of exact .5 ties) and the package's
/// output per type (tools/make_gguf_fixtures.py).
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
        #expect(Set(types + [.f32]) == Set(GGUFQuantize.quantizable))
    }

    @Test func kQuantsAreRefusedNamingTheType() {
        let values = [Float](repeating: 1, count: 256)
        expectModelFileError(["Q4_K", "Q5_1"], kind: .unsupported) {
            _ = try values.withUnsafeBufferPointer { try GGUFQuantize.bytes($0, as: .q4_K) }
        }
    }
}
