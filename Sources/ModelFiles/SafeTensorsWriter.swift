import Foundation
import Tensors

/// Writes safetensors files the way the Python `safetensors` library does, byte for byte:
/// header `{"__metadata__":{...},"name":{"dtype":..,"shape":[..],"data_offsets":[b,e]},...}`
/// (compact JSON, tensors in data order) padded with spaces to a multiple of 8 bytes, tensors
/// laid out by descending dtype rank then by name (see `SafeTensorsDType.layoutRank`).
public enum SafeTensorsWriter {
    /// One tensor to write: its little-endian bytes in `dtype`.
    public struct Entry: Sendable {
        public let name: String
        public let dtype: SafeTensorsDType
        public let shape: [Int]
        public let data: Data

        /// Throws when `data.count` is not product(shape) * dtype size.
        public init(name: String, dtype: SafeTensorsDType, shape: [Int], data: Data) throws {
            let size = elementCount(shape, elementSize: dtype.byteSize)
            guard size == data.count else {
                let expected = size.map { "\($0) bytes" } ?? "a size that fits in Int"
                throw ModelFileError(.malformed, file: "<safetensors writer>", subject: "tensor '\(name)'",
                                     "expected \(dtype.rawValue) \(shape) to have \(expected) (product(shape) * \(dtype.byteSize)), found \(data.count)")
            }
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.data = data
        }

        /// A Float32 tensor stored as F32, F16, BF16 (round to nearest even) or F64.
        public init(name: String, tensor: Tensor, as dtype: SafeTensorsDType = .f32) throws {
            guard dtype.scalarType.isFloatingPoint else {
                throw ModelFileError(.unsupported, file: "<safetensors writer>", subject: "tensor '\(name)'",
                                     "expected a float dtype to store a Float tensor, found \(dtype.rawValue)")
            }
            try self.init(name: name, dtype: dtype, shape: tensor.shape,
                          data: LittleEndian.bytes(of: tensor.scalars, as: dtype.scalarType))
        }

        /// Integer values stored as I64, I32, I16, I8, U8 or BOOL (truncated to the width).
        public init(name: String, shape: [Int], ints: [Int64], as dtype: SafeTensorsDType) throws {
            guard !dtype.scalarType.isFloatingPoint else {
                throw ModelFileError(.unsupported, file: "<safetensors writer>", subject: "tensor '\(name)'",
                                     "expected an integer dtype to store integers, found \(dtype.rawValue)")
            }
            try self.init(name: name, dtype: dtype, shape: shape, data: LittleEndian.bytes(of: ints, as: dtype.scalarType))
        }
    }

    public static let defaultMetadata = ["format": "pt"]

    /// The library's layout order: descending dtype rank, then name by UTF-8 bytes.
    static func layoutOrder(_ entries: [Entry]) -> [Entry] {
        entries.sorted {
            if $0.dtype.layoutRank != $1.dtype.layoutRank { return $0.dtype.layoutRank > $1.dtype.layoutRank }
            return Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8))
        }
    }

    /// The padded header bytes (length prefix included) for entries already in layout order.
    static func header(_ ordered: [Entry], metadata: [String: String]?) throws -> Data {
        var json = "{"
        var first = true
        if let metadata, !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            json += "\"__metadata__\":{\(pairs.joined(separator: ","))}"
            first = false
        }
        var offset = 0
        var seen = Set<String>()
        for entry in ordered {
            guard entry.name != "__metadata__", seen.insert(entry.name).inserted else {
                throw ModelFileError(.malformed, file: "<safetensors writer>", subject: "tensor '\(entry.name)'",
                                     "expected a unique name other than __metadata__, found it repeated or reserved")
            }
            if !first { json += "," }
            first = false
            let shape = entry.shape.map(String.init).joined(separator: ",")
            json += "\(jsonString(entry.name)):{\"dtype\":\"\(entry.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + entry.data.count)]}"
            offset += entry.data.count
        }
        json += "}"
        var body = Data(json.utf8)
        // Pad with spaces (valid JSON whitespace) so the data area starts 8-byte aligned.
        let padding = (8 - body.count % 8) % 8
        body.append(contentsOf: [UInt8](repeating: 0x20, count: padding))
        var result = Data()
        withUnsafeBytes(of: UInt64(body.count).littleEndian) { result.append(contentsOf: $0) }
        result.append(body)
        return result
    }

    /// JSON string literal with the escapes serde_json uses (quote, backslash, control chars).
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// The complete file bytes (for small files and tests; `write` streams instead).
    public static func serialize(_ entries: [Entry], metadata: [String: String]? = defaultMetadata) throws -> Data {
        let ordered = layoutOrder(entries)
        var data = try header(ordered, metadata: metadata)
        for entry in ordered { data.append(entry.data) }
        return data
    }

    /// Streams one safetensors file into `sink`: the header, then each tensor's bytes in layout
    /// order (for writers that manage their own files, e.g. an export folder built in a temporary
    /// place). Same bytes as `serialize`.
    public static func stream(_ entries: [Entry], metadata: [String: String]? = defaultMetadata,
                              into sink: (Data) throws -> Void) throws {
        let ordered = layoutOrder(entries)
        try sink(try header(ordered, metadata: metadata))
        for entry in ordered { try sink(entry.data) }
    }

    /// Writes one safetensors file through a temporary name and a rename.
    public static func write(_ entries: [Entry], to url: URL, metadata: [String: String]? = defaultMetadata) throws {
        let ordered = layoutOrder(entries)
        let head = try header(ordered, metadata: metadata)
        try AtomicFile.write(to: url) { handle in
            try handle.write(contentsOf: head)
            for entry in ordered { try handle.write(contentsOf: entry.data) }
        }
    }
}
