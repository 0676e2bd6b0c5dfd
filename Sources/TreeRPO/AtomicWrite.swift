import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a file through a temporary sibling and `rename(2)`: a reader never sees half a
/// dataset, and a crash mid-write leaves the previous file intact.
public enum AtomicWrite {
    public static func write(_ data: Data, to url: URL) throws {
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DatasetError(file: url.path, line: nil, field: nil, message: "cannot write: directory \(directory.path) does not exist")
        }
        do {
            try data.write(to: temporary)
        } catch {
            throw DatasetError(file: url.path, line: nil, field: nil, message: "cannot write temporary file \(temporary.path): \(error.localizedDescription)")
        }
        guard rename(temporary.path, url.path) == 0 else {
            let code = errno
            try? FileManager.default.removeItem(at: temporary)
            throw DatasetError(file: url.path, line: nil, field: nil, message: "cannot rename \(temporary.lastPathComponent) into place: errno \(code)")
        }
    }
}
