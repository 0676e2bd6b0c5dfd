import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a file through a temporary sibling and `rename(2)`, so a reader never sees a half
/// written model and a crash mid-write leaves the previous file intact.
public enum AtomicFile {
    /// `body` receives a handle to the temporary file; on any error the temporary is removed.
    public static func write(to url: URL, _ body: (FileHandle) throws -> Void) throws {
        let name = url.lastPathComponent
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(".\(name).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
            throw ModelFileError(.io, file: name, "cannot create temporary file \(temporary.path)")
        }
        do {
            let handle = try FileHandle(forWritingTo: temporary)
            do {
                try body(handle)
                try handle.synchronize()
                try handle.close()
            } catch {
                try? handle.close()
                throw error
            }
            guard rename(temporary.path, url.path) == 0 else {
                throw ModelFileError(.io, file: name, "cannot rename \(temporary.lastPathComponent) to \(name): errno \(errno)")
            }
        } catch let error as ModelFileError {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw ModelFileError(.io, file: name, "write failed: \(PlainErrorText.describe(error))")
        }
    }

    public static func write(_ data: Data, to url: URL) throws {
        try write(to: url) { try $0.write(contentsOf: data) }
    }
}
