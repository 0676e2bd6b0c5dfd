import Foundation
import Tensors

/// One ONNX tensor (an initializer, a Constant value or a tensor attribute) with what is needed
/// to read its values: the model file's name for errors and the model's external data files.
///
/// Values are decoded on request from whichever storage the exporter chose:
/// `raw_data` (little-endian), `float_data`, `int32_data` (also the 16-bit patterns of FLOAT16 /
/// BFLOAT16), `int64_data`, `double_data`, `uint64_data`, or external data.
public struct ONNXTensor: Sendable {
    public let proto: Onnx_TensorProto
    /// File name used in error messages.
    public let file: String
    let externalFiles: ONNXExternalFiles

    public init(proto: Onnx_TensorProto, file: String, externalFiles: ONNXExternalFiles) {
        self.proto = proto
        self.file = file
        self.externalFiles = externalFiles
    }

    public var name: String { proto.name }
    public var dataType: ONNXDataType { ONNXDataType(rawValue: proto.dataType) }
    /// The dims as stored (may be negative or huge in a bad file; `shape()` checks them).
    public var dims: [Int64] { proto.dims }
    public var isExternal: Bool { proto.dataLocation == .external }

    private var subject: String { "tensor '\(proto.name)'" }

    /// The dims as Ints with the element count, refusing negative dims and overflowing products.
    public func shape() throws -> (dims: [Int], count: Int) {
        var dims: [Int] = []
        dims.reserveCapacity(proto.dims.count)
        for d in proto.dims {
            guard d >= 0, d <= Int64(Int.max) else {
                throw ModelFileError(.malformed, file: file, subject: subject,
                                     "expected non-negative dims, found \(proto.dims)")
            }
            dims.append(Int(d))
        }
        guard let count = elementCount(dims) else {
            throw ModelFileError(.malformed, file: file, subject: subject,
                                 "expected dims whose product fits in Int, found \(proto.dims)")
        }
        return (dims, count)
    }

    /// Float32 values for FLOAT, FLOAT16, BFLOAT16 and DOUBLE tensors, row-major.
    public func floats() throws -> [Float] {
        let type = try scalarType()
        guard type.isFloatingPoint else {
            throw ModelFileError(.unsupported, file: file, subject: subject,
                                 "expected FLOAT, FLOAT16, BFLOAT16 or DOUBLE for float values, found \(dataType)")
        }
        let (_, count) = try shape()
        if let bytes = try littleEndianBytes(type, count: count) {
            return LittleEndian.floats(bytes, type)!  // length checked by littleEndianBytes
        }
        switch type {
        case .float32:
            try checkCount(proto.floatData.count, count, field: "float_data")
            return proto.floatData
        case .float64:
            try checkCount(proto.doubleData.count, count, field: "double_data")
            return proto.doubleData.map { Float($0) }
        default:  // float16 / bfloat16: one 16-bit pattern per int32_data entry
            try checkCount(proto.int32Data.count, count, field: "int32_data")
            return proto.int32Data.map { word in
                let bits = UInt16(truncatingIfNeeded: word)
                return type == .float16 ? HalfPrecision.float(fromFloat16Bits: bits)
                    : HalfPrecision.float(fromBFloat16Bits: bits)
            }
        }
    }

    /// Int64 values for the integer and BOOL types (INT64, INT32, INT16, INT8, UINT*, BOOL).
    public func int64s() throws -> [Int64] {
        let type = try scalarType()
        guard !type.isFloatingPoint else {
            throw ModelFileError(.unsupported, file: file, subject: subject,
                                 "expected an integer data type for integer values, found \(dataType)")
        }
        let (_, count) = try shape()
        if let bytes = try littleEndianBytes(type, count: count) {
            guard let values = LittleEndian.int64s(bytes, type) else {
                throw ModelFileError(.outOfBounds, file: file, subject: subject,
                                     "expected UINT64 values <= Int64.max, found larger ones")
            }
            return values
        }
        switch type {
        case .int64:
            try checkCount(proto.int64Data.count, count, field: "int64_data")
            return proto.int64Data
        case .uint32, .uint64:
            try checkCount(proto.uint64Data.count, count, field: "uint64_data")
            guard proto.uint64Data.allSatisfy({ $0 <= UInt64(Int64.max) }) else {
                throw ModelFileError(.outOfBounds, file: file, subject: subject,
                                     "expected uint64_data values <= Int64.max, found larger ones")
            }
            return proto.uint64Data.map { Int64($0) }
        default:  // int32, int16, int8, uint16, uint8, bool live in int32_data
            try checkCount(proto.int32Data.count, count, field: "int32_data")
            return proto.int32Data.map { Int64($0) }
        }
    }

    /// A Float32 `Tensor` of this tensor's shape (float types only).
    public func tensor() throws -> Tensor {
        let values = try floats()
        let (dims, _) = try shape()
        return try Tensor(shape: dims, scalars: values)
    }

    // MARK: - Storage

    private func scalarType() throws -> ScalarType {
        guard let type = dataType.scalarType else {
            throw ModelFileError(.unsupported, file: file, subject: subject,
                                 "expected a fixed-width numeric data type, found \(dataType)")
        }
        if proto.hasSegment {
            throw ModelFileError(.unsupported, file: file, subject: subject,
                                 "expected a whole tensor, found a segment [\(proto.segment.begin), \(proto.segment.end))")
        }
        return type
    }

    private func checkCount(_ found: Int, _ expected: Int, field: String) throws {
        guard found == expected else {
            throw ModelFileError(.malformed, file: file, subject: subject,
                                 "expected \(expected) values in \(field) for \(dataType) \(proto.dims), found \(found)")
        }
    }

    /// The element bytes when they are in raw_data or external data (nil when the typed fields
    /// are used), after checking their length is exactly `count * byteSize`.
    private func littleEndianBytes(_ type: ScalarType, count: Int) throws -> Data? {
        guard let expected = elementCount([count], elementSize: type.byteSize) else {
            throw ModelFileError(.malformed, file: file, subject: subject, "byte size of dims \(proto.dims) overflows")
        }
        if isExternal {
            return try externalBytes(expected: expected)
        }
        guard proto.hasRawData else { return nil }
        guard proto.rawData.count == expected else {
            throw ModelFileError(.malformed, file: file, subject: subject,
                                 "expected \(expected) bytes of raw_data for \(dataType) \(proto.dims), found \(proto.rawData.count)")
        }
        return proto.rawData
    }

    private func externalBytes(expected: Int) throws -> Data {
        var entries: [String: String] = [:]
        for entry in proto.externalData { entries[entry.key] = entry.value }
        guard let location = entries["location"] else {
            throw ModelFileError(.missing, file: file, subject: "\(subject) external_data",
                                 "expected a 'location' entry, found keys \(entries.keys.sorted())")
        }
        func number(_ key: String) throws -> Int? {
            guard let text = entries[key] else { return nil }
            guard let value = Int(text), value >= 0 else {
                throw ModelFileError(.malformed, file: file, subject: "\(subject) external_data '\(key)'",
                                     "expected a non-negative integer, found '\(text)'")
            }
            return value
        }
        let offset = try number("offset") ?? 0
        let length = try number("length") ?? expected
        guard length == expected else {
            throw ModelFileError(.malformed, file: file, subject: "\(subject) external_data 'length'",
                                 "expected \(expected) bytes for \(dataType) \(proto.dims), found \(length)")
        }
        return try externalFiles.bytes(location: location, offset: offset, length: length, file: file, tensor: proto.name)
    }
}
