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

    /// The import drops each tensor's pages of the mapped file as it dequantises it, and the
    /// header's once it is parsed: a page touched again is read back from the file, so the values
    /// stay the same; bytes held in memory are never released (their pages would read as zeros).
    @Test func releasedPagesReadBackTheSameValues() throws {
        let url = Fixtures.url("gguf-dequant.gguf")
        let mapped = try GGUFFile(contentsOf: url)
        #expect(mapped.isFileMapping)
        let inMemory = try GGUFFile(data: Data(contentsOf: url), file: url.lastPathComponent)
        #expect(!inMemory.isFileMapping)
        let before = try mapped.tensors.map { try mapped.floats($0) }
        mapped.releaseHeaderPages()
        inMemory.releaseHeaderPages()
        for _ in 0..<2 {  // the second pass reads pages the first one released
            for (info, values) in zip(mapped.tensors, before) {
                for file in [mapped, inMemory] {
                    var out = [Float](repeating: .nan, count: info.elementCount)
                    try out.withUnsafeMutableBufferPointer { try file.dequantize(info, into: $0.baseAddress!, releasingPages: true) }
                    #expect(out.map(\.bitPattern) == values.map(\.bitPattern),
                            "\(info.name) (\(file.isFileMapping ? "mapped" : "in memory")): values changed when pages were released")
                }
            }
        }
        #expect(try mapped.tensors.map { try mapped.floats($0).map(\.bitPattern) } == before.map { $0.map(\.bitPattern) })
        #expect(Data(mapped.data.prefix(4)) == Data("GGUF".utf8))
    }

    /// A tensor larger than one release piece is dequantised piece by piece: the same values as
    /// in one go, for a block type and a plain one.
    @Test func piecewiseDequantisationEqualsWholeTensor() throws {
        let blocks = GGUFFile.releaseChunkBytes / 34 * 2 + 5  // Q8_0: 34 bytes per 32 values; two pieces and a part
        let count = blocks * 32
        // Quants from a multiplicative hash of the index (every byte value occurs), scale f16 1.0.
        var bytes = (0..<(blocks * 34)).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 16) }
        for b in 0..<blocks { bytes[b * 34] = 0x00; bytes[b * 34 + 1] = 0x3c }
        var t = GGUFTestFile()
        t.tensors = [.init(name: "big", dims: [UInt64(count)], type: GGMLType.q8_0.rawValue, offset: 0)]
        t.dataBytes = 0  // the header alone, padded to the alignment; the tensor bytes follow
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gguf-pieces-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("big.gguf")
        try Data(t.bytes + bytes).write(to: url)
        let file = try GGUFFile(contentsOf: url)
        let info = try file.tensor("big")
        let whole = try file.floats(info)
        var pieces = [Float](repeating: .nan, count: count)
        try pieces.withUnsafeMutableBufferPointer { try file.dequantize(info, into: $0.baseAddress!, releasingPages: true) }
        #expect(pieces.map(\.bitPattern) == whole.map(\.bitPattern))
        #expect(Set(whole).count == 256, "the quants should cover every int8 value")
        #expect(whole[0] == Float(Int8(bitPattern: bytes[2])))
        #expect(whole[count - 1] == Float(Int8(bitPattern: bytes[blocks * 34 - 1])))
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
