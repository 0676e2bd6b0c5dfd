import Foundation
import Testing
@testable import ModelFiles

/// Every malformed GGUF gives a ModelFileError naming the file, the field and the value (and the
/// limit it broke), before anything is allocated for it; a seeded fuzz over mutated files never
/// gives anything else.
@Suite("GGUF bad input")
struct GGUFBadInputTests {
    typealias T = GGUFTestFile

    @Test func theHandBuiltFileIsValidInVersions2And3() throws {
        for version: UInt32 in [2, 3] {
            var t = T()
            t.version = version
            let file = try t.open()
            #expect(file.version == version)
            #expect(file["general.architecture"]?.stringValue == "test")
            #expect(file.tensors.map(\.name) == ["a", "b"])
            #expect(try file.tensor("b").shape == [2, 32])
            // Q8_0 blocks at data bytes 32 and 66, scale 1.0, int8 values the counting bytes.
            let b = try file.floats("b")
            #expect(Array(b.prefix(3)) == [34, 35, 36] && b.last == 99)
        }
    }

    @Test func truncatedAnywhere() throws {
        let full = T().bytes
        for length in 0..<full.count {
            do {
                _ = try GGUFFile(data: Data(full.prefix(length)), file: "cut.gguf")
                Issue.record("a file cut to \(length) of \(full.count) bytes was accepted")
            } catch let error as ModelFileError {
                #expect(error.file == "cut.gguf" && error.subject != nil, "\(error)")
            }
        }
        expectModelFileError(["cut.gguf", "field 'version'", "truncated"], kind: .outOfBounds) {
            _ = try GGUFFile(data: Data(full.prefix(6)), file: "cut.gguf")
        }
        expectModelFileError(["cut.gguf", "tensor 'b'", "field 'offset'", "data area"], kind: .outOfBounds) {
            _ = try GGUFFile(data: Data(full.dropLast(1)), file: "cut.gguf")
        }
    }

    @Test func magicAndVersion() {
        var t = T()
        t.magic = Array("GGML".utf8)
        expectModelFileError(["bad.gguf", "field 'magic'", "47 47 4d 4c"], kind: .malformed) { _ = try t.open() }
        t = T()
        t.version = 1
        expectModelFileError(["bad.gguf", "field 'version'", "found 1", "32-bit"], kind: .unsupported) { _ = try t.open() }
        t.version = 0x0300_0000  // a big-endian version 3
        expectModelFileError(["field 'version'", "expected 2 or 3", "found 50331648"], kind: .unsupported) { _ = try t.open() }
    }

    @Test func countsBeyondTheFile() {
        var t = T()
        t.tensorCount = 1 << 40
        expectModelFileError(["bad.gguf", "field 'tensor_count'", "found 1099511627776", "at most"], kind: .outOfBounds) { _ = try t.open() }
        t = T()
        t.metadataCount = UInt64.max
        expectModelFileError(["field 'metadata_kv_count'", "found 18446744073709551615"], kind: .outOfBounds) { _ = try t.open() }
        t = T()
        t.metadata.append(("tokenizer.ggml.tokens", 9, T.u32(8) + T.u64(1 << 60)))
        expectModelFileError(["field 'tokenizer.ggml.tokens count'", "found 1152921504606846976", "at least 8 per item"], kind: .outOfBounds) { _ = try t.open() }
    }

    @Test func stringLengthsBeyondTheFile() {
        var t = T()
        t.metadata[0] = ("general.architecture", 8, T.string("llama", length: 1 << 33))
        expectModelFileError(["bad.gguf", "field 'general.architecture'", "found 8589934592", "bytes left"], kind: .outOfBounds) { _ = try t.open() }
        t = T()
        t.tensors[0].name = String(repeating: "x", count: 3)
        var bytes = t.bytes
        // The first tensor name's length field sits right after the metadata.
        let at = 24 + T.string("general.architecture").count + 4 + T.string("test").count
        bytes.replaceSubrange(at..<(at + 8), with: T.u64(UInt64(Int64.max)))
        expectModelFileError(["field 'tensor #0 name'", "found 9223372036854775807"], kind: .outOfBounds) {
            _ = try GGUFFile(data: Data(bytes), file: "bad.gguf")
        }
        t = T()
        t.metadata.append(("general.name", 8, T.u64(2) + [0xC3, 0x28]))
        expectModelFileError(["field 'general.name'", "UTF-8"], kind: .malformed) { _ = try t.open() }
    }

    @Test func offsets() {
        var t = T()
        t.tensors[1].offset = 4096
        expectModelFileError(["bad.gguf", "tensor 'b'", "field 'offset'", "found offset 4096", "100 bytes"], kind: .outOfBounds) { _ = try t.open() }
        t = T()
        t.tensors[1].offset = 16
        expectModelFileError(["tensor 'b'", "field 'offset'", "alignment 32", "found 16"], kind: .malformed) { _ = try t.open() }
        t = T()
        t.tensors[1].offset = 0
        t.tensors[1].dims = [32]
        expectModelFileError(["field 'offset'", "overlapping tensor"], kind: .outOfBounds) { _ = try t.open() }
        t = T()
        t.tensors[1].offset = UInt64.max - 31
        expectModelFileError(["tensor 'b'", "field 'offset'"], kind: .outOfBounds) { _ = try t.open() }
    }

    @Test func alignmentKey() throws {
        var t = T()
        t.metadata.append(("general.alignment", 4, T.u32(24)))
        expectModelFileError(["field 'general.alignment'", "power of two", "24"], kind: .malformed) { _ = try t.open() }
        t.metadata[1] = ("general.alignment", 10, T.u64(32))
        expectModelFileError(["field 'general.alignment'", "UINT64"], kind: .malformed) { _ = try t.open() }
        t = T()
        t.metadata.append(("general.alignment", 4, T.u32(64)))
        t.tensors[1].offset = 64
        t.alignment = 64
        t.dataBytes = 64 + 68
        #expect(try t.open().dataStart % 64 == 0)
    }

    @Test func metadataTypes() {
        var t = T()
        t.metadata.append(("x.unknown", 13, T.u32(1)))
        expectModelFileError(["bad.gguf", "field 'x.unknown'", "value type id 0 to 12", "found 13"], kind: .unsupported) { _ = try t.open() }
        t = T()
        t.metadata.append(("x.array", 9, T.u32(77) + T.u64(1)))
        expectModelFileError(["field 'x.array'", "element type", "found 77"], kind: .unsupported) { _ = try t.open() }
        t = T()
        t.metadata.append(("general.architecture", 8, T.string("again")))
        expectModelFileError(["field 'general.architecture'", "once"], kind: .malformed) { _ = try t.open() }
        t = T()
        t.metadata.append(("x.flag", 7, [2]))
        expectModelFileError(["field 'x.flag'", "BOOL", "found 2"], kind: .malformed) { _ = try t.open() }
    }

    @Test func tensorInfos() {
        var t = T()
        t.tensors[0].dims = [1, 1, 1, 2, 2]
        expectModelFileError(["bad.gguf", "tensor 'a'", "field 'n_dimensions'", "1 to 4", "found 5"], kind: .unsupported) { _ = try t.open() }
        t = T()
        t.tensors[0].type = 99
        expectModelFileError(["tensor 'a'", "field 'type'", "found 99"], kind: .unsupported) { _ = try t.open() }
        t = T()
        t.tensors[1].dims = [31, 2]
        expectModelFileError(["tensor 'b'", "field 'dimensions'", "block of 32", "[31, 2]"], kind: .malformed) { _ = try t.open() }
        t = T()
        t.tensors[1].dims = [32, 1 << 62]
        expectModelFileError(["tensor 'b'", "field 'dimensions[1]'", "found 4611686018427387904"], kind: .outOfBounds) { _ = try t.open() }
        t = T()
        t.tensors[1].name = "a"
        expectModelFileError(["tensor 'a'", "once"], kind: .malformed) { _ = try t.open() }
    }

    static func mutate(_ original: [UInt8], _ rng: inout SeededGenerator) -> Data {
        var bytes = original
        switch Int.random(in: 0..<4, using: &rng) {
        case 0:
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
            }
        case 1:
            bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &rng)))
        case 2:  // a count, length or offset byte set to an extreme (the header is mostly such fields)
            let i = Int.random(in: 0..<min(bytes.count, 400), using: &rng)
            bytes[i] = [0x00, 0x01, 0x7F, 0x80, 0xFF].randomElement(using: &rng)!
        default:
            let i = Int.random(in: 0..<bytes.count, using: &rng)
            bytes.removeSubrange(i..<min(bytes.count, i + Int.random(in: 1...8, using: &rng)))
        }
        return Data(bytes)
    }

    @Test func seededFuzzGivesOnlyModelFileErrors() throws {
        let sources: [(String, [UInt8])] = [("hand-built", T().bytes),
                                             ("gguf-dequant.gguf", [UInt8](try Fixtures.data("gguf-dequant.gguf")))]
        for (name, original) in sources {
            var rng = SeededGenerator(seed: 0x6767_5546)
            var parsed = 0, refused = 0
            for _ in 0..<1500 {
                do {
                    let file = try GGUFFile(data: Self.mutate(original, &rng), file: "fuzz.gguf")
                    for info in file.tensors { _ = try? file.floats(info) }
                    parsed += 1
                } catch let error as ModelFileError {
                    #expect(error.file == "fuzz.gguf")
                    refused += 1
                } catch {
                    Issue.record("\(name): expected only ModelFileError, found \(type(of: error)): \(error)")
                }
            }
            #expect(parsed + refused == 1500 && refused > 100 && parsed > 100, "\(name): \(parsed) parsed, \(refused) refused")
        }
    }
}
