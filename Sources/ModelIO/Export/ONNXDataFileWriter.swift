import Transformer
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Streams one external data file of the exported model: the original file's bytes, with the
/// planned tensor ranges replaced by their new values and new tensors appended after it. Read
/// with `pread` in bounded chunks, so a multi-GB file is never held in memory.
enum ONNXDataFileWriter {
    static let chunkBytes = 4 << 20

    static func write(_ file: ONNXWriteBack.DataFile, to writer: ExportFileWriter,
                      encode: (String, ImportMap.Stored, Data?) -> Data) throws {
        let ranges = file.ranges.sorted { $0.offset < $1.offset }
        for (a, b) in zip(ranges, ranges.dropFirst()) where a.offset + a.length > b.offset {
            throw ExportError(.source, file: file.location, subject: "tensor '\(b.tensor)'",
                              "expected external data ranges that do not overlap, found it at \(b.offset) inside tensor '\(a.tensor)' [\(a.offset), \(a.offset + a.length))")
        }
        if let last = ranges.last, last.offset + last.length > file.originalSize {
            throw ExportError(.source, file: file.location, subject: "tensor '\(last.tensor)'",
                              "expected offset \(last.offset) + length \(last.length) within the file's \(file.originalSize) bytes")
        }
        var source: Int32 = -1
        if let original = file.original {
            source = open(original.path, O_RDONLY | O_CLOEXEC)
            guard source >= 0 else {
                throw ExportError(.source, file: original.path, "cannot open the original external data: \(String(cString: strerror(errno))) (errno \(errno))")
            }
        }
        defer { if source >= 0 { close(source) } }
        var position = 0
        func copy(upTo end: Int) throws {
            while position < end {
                let n = min(chunkBytes, end - position)
                try writer.write(try read(source, file.original!, offset: position, length: n))
                position += n
            }
        }
        for range in ranges {
            try copy(upTo: range.offset)
            let bytes: Data
            switch range.payload {
            case .bytes(let data):
                bytes = data
            case .parameter(let parameter, let stored):
                // FLOAT is written from the parameter alone; other types keep unchanged elements.
                let original = stored.dtype == "FLOAT" ? nil : try read(source, file.original!, offset: range.offset, length: range.length)
                bytes = encode(parameter, stored, original)
            }
            guard bytes.count == range.length else {
                throw ExportError(.importMap, file: file.location, subject: "tensor '\(range.tensor)'",
                                  "expected \(range.length) bytes (import map), computed \(bytes.count)")
            }
            try writer.write(bytes)
            position += range.length
        }
        try copy(upTo: file.originalSize)
        for (offset, bytes) in file.appended {
            if offset > position { try writer.write(Data(count: offset - position)) }
            try writer.write(bytes)
            position = offset + bytes.count
        }
    }

    /// `length` bytes at `offset` of an open file.
    static func read(_ fd: Int32, _ url: URL, offset: Int, length: Int) throws -> Data {
        var data = Data(count: length)
        var done = 0
        try data.withUnsafeMutableBytes { (buffer: UnsafeMutableRawBufferPointer) in
            while done < length {
                let n = pread(fd, buffer.baseAddress! + done, length - done, off_t(offset + done))
                if n < 0, errno == EINTR { continue }
                guard n > 0 else {
                    throw ExportError(.source, file: url.path, "expected \(length) bytes at offset \(offset), read \(done) (errno \(errno))")
                }
                done += n
            }
        }
        return data
    }

    /// `length` bytes at `offset` of the file at `url`.
    static func read(_ url: URL, offset: Int, length: Int) throws -> Data {
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ExportError(.source, file: url.path, "cannot open: \(String(cString: strerror(errno))) (errno \(errno))")
        }
        defer { close(fd) }
        return try read(fd, url, offset: offset, length: length)
    }
}
