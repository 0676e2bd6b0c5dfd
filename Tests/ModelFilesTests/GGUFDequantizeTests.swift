import Foundation
import Testing
@testable import ModelFiles

/// Every supported ggml type dequantised by us equals the `gguf` package's `dequantize` bit for
/// bit: gguf-dequant.gguf holds one tensor per type and origin (quantised by the package, or
/// random block bytes), gguf-dequant-expected.gguf the package's Float32 results under the same
/// names. Both come from tools/make_gguf_fixtures.py.
@Suite("GGUF dequantisation")
struct GGUFDequantizeTests {
    static let regenerate = "regenerate with: .venv-tools/bin/python tools/make_gguf_fixtures.py"

    @Test func everySupportedTypeEqualsTheGGUFPackageBitForBit() throws {
        let file = try GGUFFile(contentsOf: Fixtures.url("gguf-dequant.gguf"))
        let expected = try GGUFFile(contentsOf: Fixtures.url("gguf-dequant-expected.gguf"))
        #expect(file.tensors.count == 16, "\(Self.regenerate)")
        var covered = Set<GGMLType>()
        for info in file.tensors {
            let reference = try expected.tensor(info.name)
            #expect(reference.type == .f32 && reference.shape == info.shape && info.shape == [2, 512], "\(info.name): \(Self.regenerate)")
            let ours = try file.floats(info)
            let theirs = try expected.floats(reference)
            let differing = zip(ours, theirs).enumerated().filter { $0.element.0.bitPattern != $0.element.1.bitPattern }
            #expect(differing.isEmpty, "\(info.name) (\(info.type)): \(differing.count) of \(ours.count) values differ from gguf.dequantize, first at \(differing.first.map { "\($0.offset): \($0.element.0) vs \($0.element.1)" } ?? "")")
            // A test that compares zeros to zeros could not fail: the values must vary.
            #expect(Set(theirs).count > 100, "\(info.name): reference values barely vary")
            covered.insert(info.type)
        }
        #expect(covered == Set(GGMLType.dequantizable), "types without a fixture: \(Set(GGMLType.dequantizable).subtracting(covered))")
    }

    @Test func unsupportedTypeIsRefusedNamingTensorAndType() throws {
        var t = GGUFTestFile()
        t.tensors[1] = .init(name: "blk.0.ffn_up.weight", dims: [256], type: GGMLType.q2_K.rawValue, offset: 32)
        t.dataBytes = 32 + 84
        let file = try t.open()
        expectModelFileError(["bad.gguf", "tensor 'blk.0.ffn_up.weight'", "Q2_K", "Q6_K"], kind: .unsupported) {
            _ = try file.floats("blk.0.ffn_up.weight")
        }
    }
}
