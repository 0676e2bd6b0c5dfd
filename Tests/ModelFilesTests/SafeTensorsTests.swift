import Foundation
import Testing
import Tensors
@testable import ModelFiles

@Suite("safetensors")
struct SafeTensorsTests {
    @Test("every tensor written by the Python library matches torch's values")
    func readsReference() throws {
        let file = try SafeTensorsFile(contentsOf: Fixtures.url("tensors.safetensors"))
        let expected = try Fixtures.expected()["safetensors"]!.objectValue!
        #expect(Set(file.names) == Set(expected.keys), "\(Fixtures.regenerate)")
        #expect(file.metadata == ["format": "pt"])
        for name in file.names {
            let reference = expected[name]!.objectValue!
            let entry = try file.entry(name)
            #expect(entry.dtype.rawValue == reference["dtype"]?.stringValue, "dtype of \(name)")
            #expect(entry.shape.map(Int64.init) == Fixtures.ints(reference["shape"]), "shape of \(name)")
            if let floats = Fixtures.floats(reference["floats"]) {
                #expect(try file.floats(name) == floats, "values of \(name); \(Fixtures.regenerate)")
            } else {
                #expect(try file.int64s(name) == Fixtures.ints(reference["ints"]), "values of \(name); \(Fixtures.regenerate)")
            }
        }
        #expect(try file.tensor("model.embed.weight").shape == [4, 3])
    }

    @Test("our writer produces the Python library's bytes for the same tensors")
    func writerMatchesPythonBytes() throws {
        let original = try Fixtures.data("tensors.safetensors")
        let file = try SafeTensorsFile(data: original, file: "tensors.safetensors")
        // Same bytes in, shuffled order: layout, header text and padding must match exactly.
        let fromBytes = try file.entries.reversed().map {
            try SafeTensorsWriter.Entry(name: $0.name, dtype: $0.dtype, shape: $0.shape, data: try file.bytes($0.name))
        }
        #expect(try SafeTensorsWriter.serialize(fromBytes) == original, "writer bytes; \(Fixtures.regenerate)")

        // Same values in: our float16 / bfloat16 encoders must reproduce torch's bits.
        let fromValues = try file.entries.map { e -> SafeTensorsWriter.Entry in
            if e.dtype.scalarType.isFloatingPoint {
                return try SafeTensorsWriter.Entry(name: e.name, tensor: try file.tensor(e.name), as: e.dtype)
            }
            return try SafeTensorsWriter.Entry(name: e.name, shape: e.shape, ints: try file.int64s(e.name), as: e.dtype)
        }
        #expect(try SafeTensorsWriter.serialize(fromValues) == original)
    }

    @Test("write to disk, read back; header padded to 8 bytes")
    func writeAndReadBack() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let t = try Tensor(shape: [3], scalars: [1, -0.5, 3])
        let url = directory.appendingPathComponent("a.safetensors")
        try SafeTensorsWriter.write([try .init(name: "t", tensor: t), try .init(name: "h", tensor: t, as: .bf16)], to: url)
        let data = try Data(contentsOf: url)
        let headerLength = data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        #expect(headerLength % 8 == 0)
        let file = try SafeTensorsFile(contentsOf: url)
        #expect(try file.tensor("t") == t)
        #expect(try file.floats("h") == [1, -0.5, 3])
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["a.safetensors"])
    }

    @Test("sharded output with index, and a single file when everything fits")
    func sharded() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let entries = try (0..<5).map { i in
            try SafeTensorsWriter.Entry(name: "layer.\(i).weight", tensor: try Tensor(shape: [4], scalars: [Float(i), 1, 2, 3]))
        }
        let names = try SafeTensorsShards.write(entries, to: directory, maxShardBytes: 40)
        #expect(names == ["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                          "model-00003-of-00003.safetensors", "model.safetensors.index.json"])
        let index = try HFConfigLikeJSON.object(directory.appendingPathComponent("model.safetensors.index.json"))
        #expect(index["metadata"]?.objectValue?["total_size"] == .int(80))
        #expect(index["weight_map"]?.objectValue?["layer.4.weight"] == .string("model-00003-of-00003.safetensors"))
        let (files, weightMap) = try SafeTensorsShards.open(directory: directory)
        #expect(files.count == 3)
        for i in 0..<5 {
            let name = "layer.\(i).weight"
            #expect(try files[weightMap[name]!]!.floats(name) == [Float(i), 1, 2, 3])
        }

        let single = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: single) }
        #expect(try SafeTensorsShards.write(entries, to: single, maxShardBytes: 1000) == ["model.safetensors"])
        #expect(try SafeTensorsShards.open(directory: single).weightMap.count == 5)
    }

    @Test func writerRefusesBadEntries() throws {
        expectModelFileError(["tensor 'x'", "8 bytes", "found 7"]) {
            _ = try SafeTensorsWriter.Entry(name: "x", dtype: .f32, shape: [2], data: Data(count: 7))
        }
        let e = try SafeTensorsWriter.Entry(name: "x", dtype: .u8, shape: [1], data: Data([1]))
        expectModelFileError(["tensor 'x'", "unique"]) { _ = try SafeTensorsWriter.serialize([e, e]) }
    }
}

enum HFConfigLikeJSON {
    static func object(_ url: URL) throws -> [String: JSONValue] {
        try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: url)).objectValue!
    }
}
