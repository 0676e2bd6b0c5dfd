import Transformer
import Foundation
import ModelFiles
#if canImport(Glibc)
import Glibc
#endif

/// Test seam standing in for a full disk: every export write draws from `remaining` bytes, and a
/// write past it fails as `write(2)` does with ENOSPC (after writing what still fit, like a real
/// short write). Shared by all the files of one export.
public final class ExportByteBudget: @unchecked Sendable {
    public private(set) var remaining: Int
    public init(bytes: Int) { remaining = bytes }

    /// How many of `count` bytes may still be written.
    func take(_ count: Int) -> Int {
        let granted = min(count, max(0, remaining))
        remaining -= granted
        return granted
    }
}

/// One output file of an export, written sequentially with `write(2)` (so ENOSPC and EFBIG
/// surface at the write that hits them, naming the file), hashed as it is written (SHA-256 for
/// EXPORT.md), and `fsync`ed on close. Files are created inside the export's temporary folder,
/// never in place: the folder as a whole is renamed at the end.
final class ExportFileWriter {
    let url: URL
    /// Path relative to the export folder, for messages and EXPORT.md.
    let relativePath: String
    private var fd: Int32
    private var hash = SHA256()
    private(set) var bytesWritten = 0
    private let budget: ExportByteBudget?

    init(_ url: URL, relativePath: String, budget: ExportByteBudget?) throws {
        self.url = url
        self.relativePath = relativePath
        self.budget = budget
        fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw ExportError(.io, file: url.path, "cannot create the file: \(String(cString: strerror(errno))) (errno \(errno))")
        }
    }

    deinit { if fd >= 0 { close(fd) } }

    func write(_ data: Data) throws {
        try data.withUnsafeBytes { try write($0) }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        hash.update(bytes)
        var done = 0
        while done < bytes.count {
            var want = min(bytes.count - done, 1 << 30)
            var simulatedFull = false
            if let budget {
                let granted = budget.take(want)
                simulatedFull = granted < want
                want = granted
            }
            if want > 0 {
                let n = Glibc.write(fd, bytes.baseAddress! + done, want)
                if n < 0, errno == EINTR { continue }
                guard n >= 0 else { throw writeFailed(errno, done) }
                done += n
                bytesWritten += n
            }
            if simulatedFull { throw writeFailed(ENOSPC, done) }
        }
    }

    private func writeFailed(_ code: Int32, _ done: Int) -> ExportError {
        ExportError(.io, file: url.path,
                    "write failed after \(bytesWritten) bytes: \(String(cString: strerror(code))) (errno \(code))")
    }

    /// Flushes to disk and closes; returns the SHA-256 of everything written.
    @discardableResult
    func finish() throws -> String {
        guard fsync(fd) == 0 else {
            let code = errno
            close(fd)
            fd = -1
            throw ExportError(.io, file: url.path, "fsync failed: \(String(cString: strerror(code))) (errno \(code))")
        }
        let result = close(fd)
        fd = -1
        guard result == 0 else {
            throw ExportError(.io, file: url.path, "close failed: \(String(cString: strerror(errno))) (errno \(errno))")
        }
        return hash.finish()
    }
}

/// The files written so far into one export folder, with their sizes and hashes (for EXPORT.md),
/// and the budget seam.
final class ExportFiles {
    struct Written: Equatable {
        var path: String
        var bytes: Int
        var sha256: String
    }

    let folder: URL
    let budget: ExportByteBudget?
    private(set) var written: [Written] = []

    init(folder: URL, budget: ExportByteBudget?) {
        self.folder = folder
        self.budget = budget
    }

    /// Creates `relativePath` (and its folders), lets `body` fill it, then syncs and records it.
    func write(_ relativePath: String, _ body: (ExportFileWriter) throws -> Void) throws {
        let url = folder.appendingPathComponent(relativePath)
        let parent = url.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        } catch {
            throw ExportError(.io, file: parent.path, "cannot create the folder: \(PlainErrorText.describe(error))")
        }
        let writer = try ExportFileWriter(url, relativePath: relativePath, budget: budget)
        try body(writer)
        let sha = try writer.finish()
        written.append(Written(path: relativePath, bytes: writer.bytesWritten, sha256: sha))
    }

    func write(_ relativePath: String, data: Data) throws {
        try write(relativePath) { try $0.write(data) }
    }
}
