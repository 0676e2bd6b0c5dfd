import Foundation
import Tensors

/// A safetensors file, memory-mapped and validated when opened.
///
/// Layout: `u64 little-endian N` | N bytes of JSON header | data area.
/// Header: `{"__metadata__": {str: str}?, name: {"dtype": "F32", "shape": [2, 3],
/// "data_offsets": [begin, end]}, ...}` with offsets relative to the data area.
public struct SafeTensorsFile: Sendable {
    public struct Entry: Sendable, Equatable {
        public let name: String
        public let dtype: SafeTensorsDType
        public let shape: [Int]
        /// Byte range inside the data area.
        public let dataOffsets: Range<Int>
        public var elementCount: Int { shape.reduce(1, *) }
    }

    /// Headers above this are refused before parsing (the Python library uses the same 100 MB).
    public static let maxHeaderLength = 100_000_000

    public let file: String
    /// `__metadata__`, e.g. ["format": "pt"].
    public let metadata: [String: String]
    /// Entries in data order (ascending offsets).
    public let entries: [Entry]
    private let index: [String: Int]
    private let data: Data
    private let dataStart: Int

    public init(contentsOf url: URL) throws {
        try self.init(data: try mapFile(url, what: "safetensors file"), file: url.lastPathComponent)
    }

    public init(data: Data, file: String) throws {
        self.file = file
        self.data = data
        guard data.count >= 8 else {
            throw ModelFileError(.malformed, file: file, subject: "header length",
                                 "expected an 8-byte little-endian header length, found a file of \(data.count) bytes")
        }
        let length = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard length <= UInt64(Self.maxHeaderLength), Int(length) <= data.count - 8 else {
            throw ModelFileError(.outOfBounds, file: file, subject: "header length",
                                 "expected at most min(\(Self.maxHeaderLength), \(data.count - 8)) bytes, found \(length)")
        }
        dataStart = 8 + Int(length)
        let headerBytes = data[(data.startIndex + 8)..<(data.startIndex + dataStart)]
        let header: [String: JSONValue]
        do {
            header = try JSONDecoder().decode([String: JSONValue].self, from: Data(headerBytes))
        } catch {
            throw ModelFileError(.malformed, file: file, subject: "header",
                                 "expected a JSON object of \(length) bytes, found: \(PlainErrorText.describe(error))")
        }
        let parsed = try Self.parse(header, file: file, dataSize: data.count - dataStart)
        metadata = parsed.metadata
        entries = parsed.entries
        index = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.name, $0) })
    }

    public var names: [String] { entries.map(\.name) }

    public func entry(_ name: String) throws -> Entry {
        guard let i = index[name] else {
            throw ModelFileError(.missing, file: file, subject: "tensor '\(name)'",
                                 "expected it in the header, found only \(entries.count) other tensors")
        }
        return entries[i]
    }

    /// The tensor's bytes, a slice of the mapped file (no copy).
    public func bytes(_ name: String) throws -> Data {
        let entry = try entry(name)
        let start = data.startIndex + dataStart
        return data[(start + entry.dataOffsets.lowerBound)..<(start + entry.dataOffsets.upperBound)]
    }

    /// Float32 values of an F32 / F16 / BF16 / F64 tensor.
    public func floats(_ name: String) throws -> [Float] {
        let entry = try entry(name)
        guard entry.dtype.scalarType.isFloatingPoint else {
            throw ModelFileError(.unsupported, file: file, subject: "tensor '\(name)'",
                                 "expected a float dtype (F32, F16, BF16, F64), found \(entry.dtype.rawValue)")
        }
        return LittleEndian.floats(try bytes(name), entry.dtype.scalarType)!
    }

    /// Int64 values of an I64 / I32 / I16 / I8 / U8 / BOOL tensor.
    public func int64s(_ name: String) throws -> [Int64] {
        let entry = try entry(name)
        guard !entry.dtype.scalarType.isFloatingPoint else {
            throw ModelFileError(.unsupported, file: file, subject: "tensor '\(name)'",
                                 "expected an integer dtype, found \(entry.dtype.rawValue)")
        }
        return LittleEndian.int64s(try bytes(name), entry.dtype.scalarType)!
    }

    public func tensor(_ name: String) throws -> Tensor {
        let values = try floats(name)
        return try Tensor(shape: try entry(name).shape, scalars: values)
    }

    // MARK: - Header validation

    static func parse(_ header: [String: JSONValue], file: String, dataSize: Int)
        throws -> (metadata: [String: String], entries: [Entry])
    {
        var metadata: [String: String] = [:]
        var entries: [Entry] = []
        for (name, value) in header {
            if name == "__metadata__" {
                guard let object = value.objectValue else {
                    throw ModelFileError(.malformed, file: file, subject: "field '__metadata__'",
                                         "expected an object of strings, found \(value)")
                }
                for (key, item) in object {
                    guard let text = item.stringValue else {
                        throw ModelFileError(.malformed, file: file, subject: "field '__metadata__.\(key)'",
                                             "expected a string, found \(item)")
                    }
                    metadata[key] = text
                }
                continue
            }
            entries.append(try parseEntry(name, value, file: file, dataSize: dataSize))
        }
        entries.sort { ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound, $0.name) < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound, $1.name) }
        // No two non-empty tensors may share bytes: after sorting, each starts at or after the
        // end of the previous non-empty one.
        var previous: Entry?
        for entry in entries where !entry.dataOffsets.isEmpty {
            if let previous, entry.dataOffsets.lowerBound < previous.dataOffsets.upperBound {
                throw ModelFileError(.outOfBounds, file: file, subject: "tensor '\(entry.name)' field 'data_offsets'",
                                     "expected no overlap, found \(entry.dataOffsets) overlapping tensor '\(previous.name)' at \(previous.dataOffsets)")
            }
            previous = entry
        }
        return (metadata, entries)
    }

    private static func parseEntry(_ name: String, _ value: JSONValue, file: String, dataSize: Int) throws -> Entry {
        let subject = "tensor '\(name)'"
        func fail(_ field: String, _ message: String, _ kind: ModelFileError.Kind = .malformed) -> ModelFileError {
            ModelFileError(kind, file: file, subject: "\(subject) field '\(field)'", message)
        }
        guard let object = value.objectValue else {
            throw ModelFileError(.malformed, file: file, subject: subject, "expected an object, found \(value)")
        }
        guard let dtypeText = object["dtype"]?.stringValue else {
            throw fail("dtype", "expected a string, found \(object["dtype"].map { "\($0)" } ?? "nothing")")
        }
        guard let dtype = SafeTensorsDType(rawValue: dtypeText) else {
            let known = SafeTensorsDType.allCases.map(\.rawValue).joined(separator: ", ")
            throw fail("dtype", "expected one of \(known), found '\(dtypeText)'", .unsupported)
        }
        guard let dims = object["shape"]?.arrayValue else {
            throw fail("shape", "expected an array of integers, found \(object["shape"].map { "\($0)" } ?? "nothing")")
        }
        var shape: [Int] = []
        for dim in dims {
            guard let d = dim.intValue, d >= 0, d <= Int64(Int32.max) * 1024 else {
                throw fail("shape", "expected non-negative integers, found \(dims)")
            }
            shape.append(Int(d))
        }
        guard let offsets = object["data_offsets"]?.arrayValue, offsets.count == 2,
            let begin = offsets[0].intValue, let end = offsets[1].intValue
        else {
            throw fail("data_offsets", "expected [begin, end], found \(object["data_offsets"].map { "\($0)" } ?? "nothing")")
        }
        guard begin >= 0, end >= begin, end <= Int64(dataSize) else {
            throw fail("data_offsets", "expected 0 <= begin <= end <= \(dataSize) (data area size), found [\(begin), \(end)]", .outOfBounds)
        }
        let size = elementCount(shape, elementSize: dtype.byteSize)
        guard let size, Int64(size) == end - begin else {
            let expected = size.map { "\($0) bytes" } ?? "a size that fits in Int"
            throw fail("data_offsets", "expected \(dtype.rawValue) \(shape) to take \(expected) (product(shape) * \(dtype.byteSize)), found \(end - begin)", .outOfBounds)
        }
        return Entry(name: name, dtype: dtype, shape: shape, dataOffsets: Int(begin)..<Int(end))
    }
}
