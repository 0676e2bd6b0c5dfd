import Transformer
import Foundation
import ModelFiles
import Tensors
#if canImport(Glibc)
import Glibc
#endif

/// Reads float initializers into Float32 memory chunk by chunk. External data is read with
/// `pread` into a bounded scratch buffer (or straight into the destination for fp32), never
/// mapped, so that a multi-GB import holds the fp32 parameters plus one chunk, not the file too.
final class WeightReader {
    let file: String
    let directory: URL?
    /// Scratch chunk size in bytes (whole rows; at least one row).
    let chunkBytes: Int
    private var handles: [String: (fd: Int32, size: Int)] = [:]

    init(model: ONNXModel, directory: URL?, chunkBytes: Int = 16 << 20) {
        file = model.file
        self.directory = directory?.standardizedFileURL
        self.chunkBytes = chunkBytes
    }

    deinit { for (_, h) in handles { close(h.fd) } }

    /// External files opened so far (name -> size).
    var externalFiles: [String: Int] { handles.mapValues(\.size) }

    static func floatType(_ tensor: ONNXTensor) -> ScalarType? {
        switch tensor.dataType {
        case .float: return .float32
        case .float16: return .float16
        case .bfloat16: return .bfloat16
        case .double: return .float64
        default: return nil
        }
    }

    /// Stored dims seen as a matrix [rows, cols] (1-D: one row; >2-D: first dim by the rest).
    static func matrix(_ dims: [Int]) -> (rows: Int, cols: Int) {
        switch dims.count {
        case 0: return (1, 1)
        case 1: return (1, dims[0])
        default: return (dims[0], dims.dropFirst().reduce(1, *))
        }
    }

    private func subject(_ t: ONNXTensor) -> String { "tensor '\(t.name)'" }

    /// Checks that the tensor's storage holds exactly its dims' worth of elements (raw_data
    /// length, external file range, typed-field count) before anyone allocates for its dims: a
    /// corrupted dim must not turn into a giant allocation. Returns the byte count.
    @discardableResult
    func checkStorage(_ t: ONNXTensor) throws -> Int {
        guard let type = Self.floatType(t) else {
            throw ImportError(.unsupported, file: file, subject: subject(t),
                              "expected FLOAT, FLOAT16, BFLOAT16 or DOUBLE, found \(t.dataType)")
        }
        let (_, count) = try t.shape()
        let (bytes, overflow) = count.multipliedReportingOverflow(by: type.byteSize)
        guard !overflow else {
            throw ImportError(.misshaped, file: file, subject: subject(t), "byte size of dims \(t.dims) overflows")
        }
        if t.isExternal {
            _ = try externalRange(t, bytes: bytes)
        } else if t.proto.hasRawData {
            guard t.proto.rawData.count == bytes else {
                throw ImportError(.misshaped, file: file, subject: subject(t),
                                  "expected \(bytes) bytes of raw_data for \(t.dataType) \(t.dims), found \(t.proto.rawData.count)")
            }
        } else {
            let found: Int
            switch type {
            case .float32: found = t.proto.floatData.count
            case .float64: found = t.proto.doubleData.count
            default: found = t.proto.int32Data.count
            }
            guard found == count else {
                throw ImportError(.misshaped, file: file, subject: subject(t),
                                  "expected \(count) stored values for \(t.dataType) \(t.dims), found \(found)")
            }
        }
        return bytes
    }

    /// Calls `body(firstRow, rows, values)` over consecutive row chunks of the stored tensor.
    func forEachChunk(_ t: ONNXTensor, _ body: (Int, Int, UnsafeBufferPointer<Float>) throws -> Void) throws {
        try checkStorage(t)
        let type = Self.floatType(t)!
        let (dims, count) = try t.shape()
        let (rows, cols) = Self.matrix(dims)
        guard count > 0 else { return }
        let size = type.byteSize
        let rowsPerChunk = max(1, chunkBytes / max(1, cols * size))
        if t.isExternal {
            let (fd, offset) = try externalRange(t, bytes: count * size)
            var bytes = [UInt8](repeating: 0, count: min(rows, rowsPerChunk) * cols * size)
            var floats = [Float](repeating: 0, count: min(rows, rowsPerChunk) * cols)
            var row = 0
            while row < rows {
                let n = min(rowsPerChunk, rows - row)
                let length = n * cols * size
                try bytes.withUnsafeMutableBytes { try preadFully(fd, $0.baseAddress!, length, offset + row * cols * size, t) }
                try bytes.withUnsafeBytes { raw in
                    try floats.withUnsafeMutableBufferPointer { out in
                        Self.convert(raw.baseAddress!, type, count: n * cols, into: out.baseAddress!)
                        try body(row, n, UnsafeBufferPointer(start: out.baseAddress!, count: n * cols))
                    }
                }
                row += n
            }
        } else if t.proto.hasRawData {
            let raw = t.proto.rawData
            guard raw.count == count * size else {
                throw ImportError(.misshaped, file: file, subject: subject(t),
                                  "expected \(count * size) bytes of raw_data for \(t.dataType) \(t.dims), found \(raw.count)")
            }
            var floats = [Float](repeating: 0, count: min(rows, rowsPerChunk) * cols)
            try raw.withUnsafeBytes { source in
                var row = 0
                while row < rows {
                    let n = min(rowsPerChunk, rows - row)
                    try floats.withUnsafeMutableBufferPointer { out in
                        Self.convert(source.baseAddress! + row * cols * size, type, count: n * cols, into: out.baseAddress!)
                        try body(row, n, UnsafeBufferPointer(start: out.baseAddress!, count: n * cols))
                    }
                    row += n
                }
            }
        } else {
            // float_data / int32_data / double_data: small tensors in practice.
            let values: [Float]
            do { values = try t.floats() } catch let error as ModelFileError {
                throw ImportError(.misshaped, file: file, subject: subject(t), error.message)
            }
            try values.withUnsafeBufferPointer { try body(0, rows, $0) }
        }
    }

    /// Fills `dest` (HF layout, `count` floats) from the stored tensor, transposing a stored
    /// [rows, cols] into [cols, rows] when asked.
    func read(_ t: ONNXTensor, into dest: UnsafeMutablePointer<Float>, transposed: Bool) throws {
        let (dims, count) = try t.shape()
        let (rows, cols) = Self.matrix(dims)
        // fp32 external data not transposed: straight from the file into the parameter.
        if t.isExternal, t.dataType == .float, !transposed, count > 0 {
            let (fd, offset) = try externalRange(t, bytes: try checkStorage(t))
            try preadFully(fd, UnsafeMutableRawPointer(dest), count * 4, offset, t)
            return
        }
        try forEachChunk(t) { first, n, values in
            if !transposed {
                dest.advanced(by: first * cols).update(from: values.baseAddress!, count: n * cols)
            } else {
                Self.transposeChunk(values.baseAddress!, firstRow: first, rows: n, cols: cols, totalRows: rows, into: dest)
            }
        }
    }

    /// True when the stored tensor (transposed when asked) equals `values` bit for bit.
    func equals(_ t: ONNXTensor, transposed: Bool, to values: UnsafePointer<Float>) throws -> Bool {
        let (dims, _) = try t.shape()
        let (rows, cols) = Self.matrix(dims)
        var equal = true
        try forEachChunk(t) { first, n, chunk in
            guard equal else { return }
            for i in 0..<n {
                for j in 0..<cols {
                    let stored = chunk[i * cols + j]
                    let expected = transposed ? values[j * rows + first + i] : values[(first + i) * cols + j]
                    if stored.bitPattern != expected.bitPattern { equal = false; return }
                }
            }
        }
        return equal
    }

    /// dest[j * totalRows + (firstRow + i)] = src[i * cols + j], in tiles for cache locality.
    static func transposeChunk(_ src: UnsafePointer<Float>, firstRow: Int, rows: Int, cols: Int, totalRows: Int,
                               into dest: UnsafeMutablePointer<Float>) {
        let tile = 32
        var j0 = 0
        while j0 < cols {
            let j1 = min(cols, j0 + tile)
            var i0 = 0
            while i0 < rows {
                let i1 = min(rows, i0 + tile)
                for j in j0..<j1 {
                    let out = dest + j * totalRows + firstRow
                    for i in i0..<i1 { out[i] = src[i * cols + j] }
                }
                i0 = i1
            }
            j0 = j1
        }
    }

    static func convert(_ raw: UnsafeRawPointer, _ type: ScalarType, count: Int, into out: UnsafeMutablePointer<Float>) {
        switch type {
        case .float32:
            UnsafeMutableRawPointer(out).copyMemory(from: raw, byteCount: count * 4)
        case .float16:
            for i in 0..<count { out[i] = HalfPrecision.float(fromFloat16Bits: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        case .bfloat16:
            for i in 0..<count { out[i] = HalfPrecision.float(fromBFloat16Bits: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        case .float64:
            for i in 0..<count { out[i] = Float(raw.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) }
        default:
            preconditionFailure("WeightReader.convert: not a float type")
        }
    }

    // MARK: - External data

    /// The open file and absolute byte offset of an external tensor, after checking the location
    /// stays inside the model's folder and offset + length fit the file.
    private func externalRange(_ t: ONNXTensor, bytes expected: Int) throws -> (Int32, Int) {
        var entries: [String: String] = [:]
        for entry in t.proto.externalData { entries[entry.key] = entry.value }
        let where_ = "\(subject(t)) external_data"
        guard let location = entries["location"] else {
            throw ImportError(.missing, file: file, subject: where_, "expected a 'location' entry, found keys \(entries.keys.sorted())")
        }
        func number(_ key: String) throws -> Int? {
            guard let text = entries[key] else { return nil }
            guard let value = Int(text), value >= 0 else {
                throw ImportError(.misshaped, file: file, subject: "\(where_) '\(key)'", "expected a non-negative integer, found '\(text)'")
            }
            return value
        }
        let offset = try number("offset") ?? 0
        let length = try number("length") ?? expected
        guard length == expected else {
            throw ImportError(.misshaped, file: file, subject: "\(where_) 'length'",
                              "expected \(expected) bytes for \(t.dataType) \(t.dims), found \(length)")
        }
        let handle = try open(location, tensor: t.name)
        let (end, overflow) = offset.addingReportingOverflow(length)
        guard !overflow, end <= handle.size else {
            throw ImportError(.misshaped, file: file, subject: where_,
                              "expected offset \(offset) + length \(length) within '\(location)' of \(handle.size) bytes")
        }
        return (handle.fd, offset)
    }

    private func open(_ location: String, tensor: String) throws -> (fd: Int32, size: Int) {
        if let h = handles[location] { return h }
        let subject = "tensor '\(tensor)' external_data 'location'"
        guard let directory else {
            throw ImportError(.missing, file: file, subject: subject, "expected a model folder to resolve '\(location)', found none")
        }
        guard !location.isEmpty, !location.hasPrefix("/"), !location.contains("\0") else {
            throw ImportError(.source, file: file, subject: subject, "expected a relative path, found '\(location)'")
        }
        let root = directory.resolvingSymlinksInPath().path
        let url = directory.appendingPathComponent(location).standardizedFileURL.resolvingSymlinksInPath()
        guard url.path.hasPrefix(root.hasSuffix("/") ? root : root + "/") else {
            throw ImportError(.source, file: file, subject: subject,
                              "expected a path inside \(root), found '\(location)' resolving to \(url.path)")
        }
        let fd = Glibc.open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ImportError(.missing, file: file, subject: subject,
                              "expected the external data file '\(location)' beside the model (\(url.path)), found none (errno \(errno))")
        }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw ImportError(.source, file: file, subject: subject, "expected a regular file at \(url.path)")
        }
        let h = (fd, Int(info.st_size))
        handles[location] = h
        return h
    }

    private func preadFully(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ length: Int, _ offset: Int, _ t: ONNXTensor) throws {
        var done = 0
        while done < length {
            let n = pread(fd, buffer + done, min(length - done, 1 << 30), off_t(offset + done))
            if n < 0, errno == EINTR { continue }
            guard n > 0 else {
                throw ImportError(.source, file: file, subject: "\(subject(t)) external_data",
                                  "expected \(length) bytes at offset \(offset), read \(done) (errno \(errno))")
            }
            done += n
        }
    }
}
