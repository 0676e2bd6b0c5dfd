import Foundation
import Tensors

/// A GGUF file (llama.cpp's format, versions 2 and 3), memory-mapped and validated when opened.
///
/// Layout (little-endian): `"GGUF"` | u32 version | u64 tensor count | u64 metadata count |
/// metadata (key string, u32 value type, value)* | tensor infos (name string, u32 n_dims,
/// u64 dims[n_dims] with the fastest-varying first, u32 ggml type, u64 offset)* | padding to
/// `general.alignment` (default 32) | tensor data, each tensor at its offset from the data start.
/// A string is a u64 byte length and UTF-8 bytes. Every count, length and offset is checked
/// against the bytes left in the file before anything is allocated or read.
public struct GGUFFile: Sendable {
    public struct TensorInfo: Sendable, Equatable {
        public let name: String
        /// GGUF order: dims[0] varies fastest (a Linear weight `[out, in]` is stored `[in, out]`).
        public let dims: [Int]
        public let type: GGMLType
        /// Bytes from the start of the data area (a multiple of the alignment).
        public let offset: Int
        public let byteCount: Int
        /// Row-major (PyTorch / Hugging Face) shape: `dims` reversed.
        public var shape: [Int] { dims.reversed() }
        public var elementCount: Int { dims.reduce(1, *) }
    }

    public static let magic: [UInt8] = Array("GGUF".utf8)
    public static let supportedVersions: ClosedRange<UInt32> = 2...3
    public static let defaultAlignment = 32
    /// GGML_MAX_DIMS.
    public static let maxDimensions = 4
    /// Arrays nested deeper than this are refused (bounds the parser's recursion).
    static let maxArrayDepth = 4

    public let file: String
    public let version: UInt32
    /// Metadata in file order.
    public let metadata: [(key: String, value: GGUFValue)]
    public let tensors: [TensorInfo]
    public let alignment: Int
    /// File offset of the data area.
    public let dataStart: Int
    /// File offset where the tensor infos end (the padding to `dataStart` follows).
    public let headerEnd: Int
    /// File offset where the tensor infos begin (the metadata ends).
    public let tensorInfoStart: Int
    public let data: Data
    /// True when `data` is the file's own read-only mapping (`init(contentsOf:)`), whose pages
    /// `releasePages(_:)` may drop.
    public let isFileMapping: Bool
    private let metadataIndex: [String: Int]
    private let tensorIndex: [String: Int]

    public init(contentsOf url: URL) throws {
        let (data, mapped) = try FileMapping.map(url, what: "GGUF file")
        try self.init(data: data, file: url.lastPathComponent, isFileMapping: mapped)
    }

    /// Bytes held in memory (never released by `releasePages`).
    public init(data: Data, file: String) throws {
        try self.init(data: data, file: file, isFileMapping: false)
    }

    private init(data: Data, file: String, isFileMapping: Bool) throws {
        self.file = file
        self.data = data
        self.isFileMapping = isFileMapping
        let parsed = try data.withUnsafeBytes { raw in try Self.parse(raw, file: file) }
        version = parsed.version
        metadata = parsed.metadata
        tensors = parsed.tensors
        alignment = parsed.alignment
        dataStart = parsed.dataStart
        headerEnd = parsed.headerEnd
        tensorInfoStart = parsed.tensorInfoStart
        metadataIndex = parsed.metadataIndex
        tensorIndex = Dictionary(uniqueKeysWithValues: tensors.enumerated().map { ($1.name, $0) })
    }

    public subscript(key: String) -> GGUFValue? { metadataIndex[key].map { metadata[$0].value } }

    public func tensor(_ name: String) throws -> TensorInfo {
        guard let i = tensorIndex[name] else {
            throw ModelFileError(.missing, file: file, subject: "tensor '\(name)'",
                                 "expected it among the \(tensors.count) tensors of the file, found none")
        }
        return tensors[i]
    }

    public func hasTensor(_ name: String) -> Bool { tensorIndex[name] != nil }

    /// The tensor's stored bytes, a slice of the mapped file (no copy).
    public func bytes(_ info: TensorInfo) -> Data {
        let start = data.startIndex + dataStart + info.offset
        return data[start..<(start + info.byteCount)]
    }

    /// Float32 values in row-major order of `info.shape`; refused for a type that
    /// `GGUFDequantize` does not handle, naming the tensor and the type.
    public func floats(_ info: TensorInfo) throws -> [Float] {
        try checkDequantizable(info)
        let count = info.elementCount
        return try [Float](unsafeUninitializedCapacity: count) { out, initialized in
            try dequantize(info, into: out.baseAddress!)
            initialized = count
        }
    }

    /// Writes the tensor's `elementCount` Float32 values (row-major order of `info.shape`) into
    /// `out`; refused for a type that `GGUFDequantize` does not handle, naming the tensor and
    /// the type. With `releasingPages` and a mapped file, the tensor's pages are dropped as it
    /// is read, in pieces of about `releaseChunkBytes` (a page touched again is read back from
    /// the file): an import holds at most one piece of the file beside the Float32 weights,
    /// not the whole file (SmolLM2's Q8_0 embedding alone is 30 MB).
    public func dequantize(_ info: TensorInfo, into out: UnsafeMutablePointer<Float>, releasingPages: Bool = false) throws {
        try checkDequantizable(info)
        let type = info.type
        let blocks = info.elementCount / type.blockSize
        let blocksPerPiece = releasingPages && isFileMapping ? max(1, Self.releaseChunkBytes / type.typeSize) : max(1, blocks)
        let start = dataStart + info.offset
        try data.withUnsafeBytes { raw in
            var block = 0
            while block < blocks {
                let n = min(blocksPerPiece, blocks - block)
                let from = start + block * type.typeSize, to = from + n * type.typeSize
                try GGUFDequantize.floats(UnsafeRawBufferPointer(rebasing: raw[from..<to]), type: type, count: n * type.blockSize,
                                          into: out + block * type.blockSize)
                if releasingPages && isFileMapping { FileMapping.release(raw.baseAddress!, range: from..<to) }
                block += n
            }
        }
    }

    /// Bytes of a tensor dequantised between two page releases (`dequantize(releasingPages:)`).
    public static let releaseChunkBytes = 1 << 20

    private func checkDequantizable(_ info: TensorInfo) throws {
        guard info.type.isDequantizable else {
            let known = GGMLType.dequantizable.map(\.description).joined(separator: ", ")
            throw ModelFileError(.unsupported, file: file, subject: "tensor '\(info.name)' field 'type'",
                                 "expected one of \(known), found \(info.type) (ggml type \(info.type.rawValue))")
        }
    }

    /// Drops the pages of the header (metadata and tensor infos, parsed into values when the
    /// file was opened) when the file is mapped.
    public func releaseHeaderPages() {
        guard isFileMapping, !data.isEmpty else { return }
        data.withUnsafeBytes { raw in FileMapping.release(raw.baseAddress!, range: 0..<min(dataStart, raw.count)) }
    }

    public func floats(_ name: String) throws -> [Float] { try floats(try tensor(name)) }

    // MARK: - Parsing

    private struct Parsed {
        var version: UInt32
        var metadata: [(key: String, value: GGUFValue)]
        var metadataIndex: [String: Int]
        var tensors: [TensorInfo]
        var alignment: Int
        var dataStart: Int
        var headerEnd: Int
        var tensorInfoStart: Int
    }

    private static func parse(_ raw: UnsafeRawBufferPointer, file: String) throws -> Parsed {
        var cursor = GGUFCursor(raw: raw, file: file)
        guard raw.count >= 4 else {
            throw ModelFileError(.malformed, file: file, subject: "field 'magic'",
                                 "expected the 4 bytes \"GGUF\", found a file of \(raw.count) bytes")
        }
        let magic = Array(raw[0..<4])
        guard magic == Self.magic else {
            throw ModelFileError(.malformed, file: file, subject: "field 'magic'",
                                 "expected \"GGUF\" (47 47 55 46), found \(magic.map { String(format: "%02x", $0) }.joined(separator: " "))")
        }
        cursor.at = 4
        let version = try cursor.u32("version")
        guard Self.supportedVersions.contains(version) else {
            let why = version == 1 ? " (version 1 used 32-bit counts and lengths and is not read)" : ""
            throw ModelFileError(.unsupported, file: file, subject: "field 'version'",
                                 "expected 2 or 3, found \(version)\(why)")
        }
        let tensorCount = try cursor.count("tensor_count", minimumBytesEach: 32)
        let metadataCount = try cursor.count("metadata_kv_count", minimumBytesEach: 13)

        var metadata: [(key: String, value: GGUFValue)] = []
        var metadataIndex: [String: Int] = [:]
        metadata.reserveCapacity(metadataCount)
        for i in 0..<metadataCount {
            let key = try cursor.string("metadata key #\(i)")
            if metadataIndex[key] != nil {
                throw ModelFileError(.malformed, file: file, subject: "field '\(key)'",
                                     "expected each metadata key once, found it again at entry #\(i)")
            }
            let type = try cursor.u32("'\(key)' value type")
            let value = try cursor.value(type: type, field: key, depth: 0)
            metadataIndex[key] = metadata.count
            metadata.append((key, value))
        }

        var alignment = Self.defaultAlignment
        if let index = metadataIndex["general.alignment"] {
            let value = metadata[index].value
            guard case .uint32(let a) = value, a > 0, a & (a - 1) == 0 else {
                throw ModelFileError(.malformed, file: file, subject: "field 'general.alignment'",
                                     "expected a UINT32 power of two, found \(value.typeName) \(value)")
            }
            alignment = Int(a)
        }

        let tensorInfoStart = cursor.at
        var infos: [(name: String, dims: [Int], type: GGMLType, offset: UInt64)] = []
        infos.reserveCapacity(tensorCount)
        var seen = Set<String>()
        for i in 0..<tensorCount {
            let name = try cursor.string("tensor #\(i) name")
            let subject = "tensor '\(name)'"
            guard seen.insert(name).inserted else {
                throw ModelFileError(.malformed, file: file, subject: subject, "expected each tensor name once, found it again at tensor #\(i)")
            }
            let nDims = try cursor.u32("\(subject) field 'n_dimensions'")
            guard nDims >= 1, nDims <= UInt32(Self.maxDimensions) else {
                throw ModelFileError(.unsupported, file: file, subject: "\(subject) field 'n_dimensions'",
                                     "expected 1 to \(Self.maxDimensions) dimensions, found \(nDims)")
            }
            var dims: [Int] = []
            for d in 0..<Int(nDims) {
                let dim = try cursor.u64("\(subject) field 'dimensions[\(d)]'")
                // A dimension above the file size cannot hold a value per element even at the
                // smallest type (below one byte per element only in blocks, never 0 bytes).
                guard dim >= 1, dim <= UInt64(raw.count) * 256 else {
                    throw ModelFileError(.outOfBounds, file: file, subject: "\(subject) field 'dimensions[\(d)]'",
                                         "expected 1 to \(UInt64(raw.count) * 256) (256 x the file size), found \(dim)")
                }
                dims.append(Int(dim))
            }
            let typeID = try cursor.u32("\(subject) field 'type'")
            guard let type = GGMLType(rawValue: typeID) else {
                throw ModelFileError(.unsupported, file: file, subject: "\(subject) field 'type'",
                                     "expected a known ggml type id, found \(typeID)")
            }
            let offset = try cursor.u64("\(subject) field 'offset'")
            infos.append((name, dims, type, offset))
        }
        let headerEnd = cursor.at
        let dataStart = (headerEnd + alignment - 1) / alignment * alignment
        let dataSize = raw.count - min(dataStart, raw.count)

        var tensors: [TensorInfo] = []
        tensors.reserveCapacity(infos.count)
        for info in infos {
            let subject = "tensor '\(info.name)'"
            guard let count = elementCount(info.dims), info.dims[0] % info.type.blockSize == 0,
                  let bytes = info.type.byteCount(elements: count)
            else {
                throw ModelFileError(.malformed, file: file, subject: "\(subject) field 'dimensions'",
                                     "expected a first dimension that is a multiple of \(info.type)'s block of \(info.type.blockSize) and a size that fits in Int, found \(info.dims)")
            }
            guard info.offset % UInt64(alignment) == 0 else {
                throw ModelFileError(.malformed, file: file, subject: "\(subject) field 'offset'",
                                     "expected a multiple of the alignment \(alignment), found \(info.offset)")
            }
            guard info.offset <= UInt64(dataSize), UInt64(bytes) <= UInt64(dataSize) - info.offset else {
                throw ModelFileError(.outOfBounds, file: file, subject: "\(subject) field 'offset'",
                                     "expected offset + \(bytes) bytes (\(info.type) \(info.dims)) to end within the data area of \(dataSize) bytes, found offset \(info.offset)")
            }
            tensors.append(TensorInfo(name: info.name, dims: info.dims, type: info.type, offset: Int(info.offset), byteCount: bytes))
        }
        // No two tensors may share bytes.
        let sorted = tensors.filter { $0.byteCount > 0 }.sorted { ($0.offset, $0.name) < ($1.offset, $1.name) }
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.offset < a.offset + a.byteCount {
            throw ModelFileError(.outOfBounds, file: file, subject: "tensor '\(b.name)' field 'offset'",
                                 "expected no overlap, found bytes \(b.offset)..<\(b.offset + b.byteCount) overlapping tensor '\(a.name)' at \(a.offset)..<\(a.offset + a.byteCount)")
        }
        return Parsed(version: version, metadata: metadata, metadataIndex: metadataIndex, tensors: tensors,
                      alignment: alignment, dataStart: dataStart, headerEnd: headerEnd, tensorInfoStart: tensorInfoStart)
    }
}

/// Bounds-checked little-endian reads over the mapped header. Every read names the field it is
/// for, so a truncated file says which field ran past the end.
struct GGUFCursor {
    let raw: UnsafeRawBufferPointer
    let file: String
    var at = 0

    var remaining: Int { raw.count - at }

    mutating func take(_ n: Int, _ field: String) throws -> Int {
        guard n <= remaining else {
            throw ModelFileError(.outOfBounds, file: file, subject: "field '\(field)'",
                                 "expected \(n) bytes at offset \(at), found the file ends at \(raw.count) (truncated)")
        }
        defer { at += n }
        return at
    }

    mutating func u8(_ field: String) throws -> UInt8 { raw[try take(1, field)] }
    mutating func u16(_ field: String) throws -> UInt16 { UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: try take(2, field), as: UInt16.self)) }
    mutating func u32(_ field: String) throws -> UInt32 { UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: try take(4, field), as: UInt32.self)) }
    mutating func u64(_ field: String) throws -> UInt64 { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: try take(8, field), as: UInt64.self)) }

    /// A u64 count of items that each take at least `minimumBytesEach` bytes: refused when that
    /// many items could not fit in the rest of the file (before anything is reserved for them).
    mutating func count(_ field: String, minimumBytesEach: Int) throws -> Int {
        let value = try u64(field)
        let limit = UInt64(remaining / minimumBytesEach)
        guard value <= limit else {
            throw ModelFileError(.outOfBounds, file: file, subject: "field '\(field)'",
                                 "expected at most \(limit) (\(remaining) bytes left, at least \(minimumBytesEach) per item), found \(value)")
        }
        return Int(value)
    }

    mutating func string(_ field: String) throws -> String {
        let length = try u64("\(field) length")
        guard length <= UInt64(remaining) else {
            throw ModelFileError(.outOfBounds, file: file, subject: "field '\(field)'",
                                 "expected a string length of at most \(remaining) (the bytes left in the file), found \(length)")
        }
        let start = try take(Int(length), field)
        let bytes = UnsafeRawBufferPointer(rebasing: raw[start..<(start + Int(length))])
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ModelFileError(.malformed, file: file, subject: "field '\(field)'", "expected UTF-8 text of \(length) bytes at offset \(start), found invalid UTF-8")
        }
        return text
    }

    /// Smallest encoding of one value of each type (a string: its length; an array: type + count).
    static func minimumSize(of type: UInt32) -> Int {
        switch type {
        case 0, 1, 7: return 1
        case 2, 3: return 2
        case 4, 5, 6: return 4
        case 8, 10, 11, 12: return 8
        default: return 12
        }
    }

    mutating func value(type: UInt32, field: String, depth: Int) throws -> GGUFValue {
        switch type {
        case 0: return .uint8(try u8(field))
        case 1: return .int8(Int8(bitPattern: try u8(field)))
        case 2: return .uint16(try u16(field))
        case 3: return .int16(Int16(bitPattern: try u16(field)))
        case 4: return .uint32(try u32(field))
        case 5: return .int32(Int32(bitPattern: try u32(field)))
        case 6: return .float32(Float(bitPattern: try u32(field)))
        case 7:
            let byte = try u8(field)
            guard byte <= 1 else {
                throw ModelFileError(.malformed, file: file, subject: "field '\(field)'", "expected a BOOL of 0 or 1, found \(byte) at offset \(at - 1)")
            }
            return .bool(byte == 1)
        case 8: return .string(try string(field))
        case 9:
            guard depth < GGUFFile.maxArrayDepth else {
                throw ModelFileError(.unsupported, file: file, subject: "field '\(field)'",
                                     "expected arrays nested at most \(GGUFFile.maxArrayDepth) deep, found deeper")
            }
            let element = try u32("\(field) element type")
            guard element <= 12 else {
                throw ModelFileError(.unsupported, file: file, subject: "field '\(field)'",
                                     "expected an element type id 0 to 12, found \(element)")
            }
            let n = try count("\(field) count", minimumBytesEach: Self.minimumSize(of: element))
            var items: [GGUFValue] = []
            items.reserveCapacity(n)
            for _ in 0..<n { items.append(try value(type: element, field: field, depth: depth + 1)) }
            return .array(element, items)
        case 10: return .uint64(try u64(field))
        case 11: return .int64(Int64(bitPattern: try u64(field)))
        case 12: return .float64(Double(bitPattern: try u64(field)))
        default:
            throw ModelFileError(.unsupported, file: file, subject: "field '\(field)'",
                                 "expected a value type id 0 to 12, found \(type)")
        }
    }
}
