import Transformer
import Foundation
import ModelFiles
#if canImport(Glibc)
import Glibc
#endif

/// The output folder of an export, built as a hidden temporary sibling
/// (`.export.tmp-<pid>-<random>`) and renamed into place only when every file is written and
/// synced. A failed export removes its temporary; a killed one leaves it behind, hidden, and the
/// next export into the same place removes it (its process is gone). A folder already at the
/// destination is moved aside, replaced, and removed only after the new one is in place.
struct ExportFolder {
    /// Marks a folder as an export: `--replace` only ever replaces a folder holding it.
    static let provenanceFile = "EXPORT.md"

    let destination: URL
    let temporary: URL

    private var parent: URL { destination.deletingLastPathComponent() }
    private var name: String { destination.lastPathComponent }

    /// Checks the destination may be written and creates the temporary folder.
    init(destination: URL, replace: Bool) throws {
        self.destination = destination.standardizedFileURL
        let fm = FileManager.default
        let parent = self.destination.deletingLastPathComponent()
        Self.removeStaleTemporaries(in: parent, name: self.destination.lastPathComponent)
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: self.destination.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw ExportError(.output, file: self.destination.path, "expected a folder (or nothing) at the output path, found a file")
            }
            let contents = (try? fm.contentsOfDirectory(atPath: self.destination.path)) ?? []
            if !contents.isEmpty {
                guard replace else {
                    throw ExportError(.output, file: self.destination.path,
                                      "expected an absent or empty output folder, found \(contents.count) entries (\(contents.contains(Self.provenanceFile) ? "a previous export" : "not an export")); replace it or choose another output folder", setting: .replaceExport)
                }
                guard contents.contains(Self.provenanceFile) else {
                    throw ExportError(.output, file: self.destination.path,
                                      "replacing only replaces an export folder (one holding \(Self.provenanceFile)); found a folder without it: \(contents.sorted().prefix(5).joined(separator: ", "))", setting: .exportFolder)
                }
            }
        }
        do {
            try fm.createDirectory(at: parent, withIntermediateDirectories: true)
        } catch {
            throw ExportError(.io, file: parent.path, "cannot create the folder for the export: \(PlainErrorText.describe(error))")
        }
        temporary = parent.appendingPathComponent(".\(self.destination.lastPathComponent).tmp-\(getpid())-\(UUID().uuidString.prefix(8))")
        guard mkdir(temporary.path, 0o755) == 0 else {
            throw ExportError(.io, file: temporary.path, "cannot create the temporary export folder: \(String(cString: strerror(errno))) (errno \(errno))")
        }
    }

    /// Removes the temporary folder (after a failure).
    func discard() {
        try? FileManager.default.removeItem(at: temporary)
    }

    /// Renames the finished temporary folder into place. On failure the previous export (if any)
    /// is restored and the temporary removed.
    func commit() throws {
        let fm = FileManager.default
        let old = parent.appendingPathComponent(".\(name).old-\(getpid())-\(UUID().uuidString.prefix(8))")
        let hadPrevious = fm.fileExists(atPath: destination.path)
        if hadPrevious, rename(destination.path, old.path) != 0 {
            let code = errno
            discard()
            throw ExportError(.io, file: destination.path, "cannot move the previous export aside: \(String(cString: strerror(code))) (errno \(code))")
        }
        if rename(temporary.path, destination.path) != 0 {
            let code = errno
            if hadPrevious { _ = rename(old.path, destination.path) }
            discard()
            throw ExportError(.io, file: destination.path, "cannot rename \(temporary.lastPathComponent) into place: \(String(cString: strerror(code))) (errno \(code))")
        }
        Self.syncDirectory(parent)
        if hadPrevious { try? fm.removeItem(at: old) }
    }

    /// Leftovers of a killed export (their process no longer runs): `.NAME.tmp-PID-*` folders
    /// are removed; a `.NAME.old-PID-*` folder is a previous export moved aside just before the
    /// kill, so it is put back when nothing took its place, else removed.
    static func removeStaleTemporaries(in parent: URL, name: String) {
        let fm = FileManager.default
        let entries = (try? fm.contentsOfDirectory(atPath: parent.path)) ?? []
        let destination = parent.appendingPathComponent(name)
        for entry in entries.sorted() {
            for marker in [".\(name).tmp-", ".\(name).old-"] where entry.hasPrefix(marker) {
                let rest = entry.dropFirst(marker.count)
                guard let pid = Int32(rest.prefix { $0 != "-" }), pid != getpid() else { continue }
                // kill(pid, 0) fails with ESRCH when no such process exists.
                guard kill(pid, 0) != 0, errno == ESRCH else { continue }
                let url = parent.appendingPathComponent(entry)
                if marker.hasSuffix(".old-"), !fm.fileExists(atPath: destination.path),
                   rename(url.path, destination.path) == 0 {
                    continue
                }
                try? fm.removeItem(at: url)
            }
        }
    }

    /// Makes the renames durable (the directory entry itself).
    static func syncDirectory(_ url: URL) {
        let fd = open(url.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }
}
