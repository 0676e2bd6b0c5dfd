import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only (`mmap(PROT_READ, MAP_PRIVATE)`), as `Data` that unmaps it
/// when the last copy goes. Unlike `Data(contentsOf:options: .alwaysMapped)`, the reader knows
/// the bytes are a file mapping, so it may drop pages it has finished with (`release`): a
/// mapped page that is touched again is read back from the file, while `MADV_DONTNEED` on
/// memory that was read into the heap would replace it with zeros.
enum FileMapping {
    /// The file's bytes and whether they are a mapping (false for an empty file, which cannot
    /// be mapped and needs no memory).
    static func map(_ url: URL, what: String) throws -> (data: Data, mapped: Bool) {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ModelFileError(.missing, file: url.lastPathComponent, "\(what) does not exist at \(url.path)")
        }
        let fail = { (call: String, code: Int32) in
            ModelFileError(.io, file: url.lastPathComponent, "cannot read \(what): \(call) failed: \(String(cString: strerror(code)))")
        }
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw fail("open", errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw fail("fstat", errno) }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw ModelFileError(.io, file: url.lastPathComponent, "cannot read \(what): expected a regular file at \(url.path)")
        }
        let size = Int(info.st_size)
        guard size > 0 else { return (Data(), false) }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else { throw fail("mmap", errno) }
        return (Data(bytesNoCopy: base, count: size, deallocator: .custom { pointer, count in munmap(pointer, count) }), true)
    }

    static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// Drops the resident pages that hold `range` of the mapping starting at `base` (the range
    /// widened to whole pages: a neighbour's bytes on a shared page are read back from the file
    /// when next touched). Only for memory that `map` returned with `mapped` true.
    static func release(_ base: UnsafeRawPointer, range: Range<Int>) {
        guard !range.isEmpty else { return }
        let start = UInt(bitPattern: base + range.lowerBound) / UInt(pageSize) * UInt(pageSize)
        let end = (UInt(bitPattern: base + range.upperBound) + UInt(pageSize) - 1) / UInt(pageSize) * UInt(pageSize)
        _ = madvise(UnsafeMutableRawPointer(bitPattern: start), Int(end - start), Int32(MADV_DONTNEED))
    }
}
