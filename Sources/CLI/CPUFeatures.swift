import Foundation

/// The kernels in Tensors and Transformer are compiled for AVX2 and FMA on x86-64 (see
/// Package.swift). On an older CPU their first SIMD instruction would kill the process with
/// SIGILL and no word of why; this check runs before any of them and says so instead.
enum CPUFeatures {
    static let required = ["avx2", "fma"]

    /// The flags of this machine's `/proc/cpuinfo`: read once at start-up for both this check
    /// and `OpenBLASKernels` (empty when the file cannot be read).
    static func hostFlags() -> Set<String> {
        flags(cpuinfo: try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))
    }

    /// The required flags missing from `flags`; empty when all are there, when there are no
    /// flags at all (the file could not be read, not Linux), or off x86-64.
    static func missing(flags: Set<String>) -> [String] {
        #if arch(x86_64)
        guard !flags.isEmpty else { return [] }
        return required.filter { !flags.contains($0) }
        #else
        return []
        #endif
    }

    /// `missing(flags:)` of the text of a `/proc/cpuinfo` (nil: unreadable).
    static func missing(cpuinfo: String?) -> [String] { missing(flags: flags(cpuinfo: cpuinfo)) }

    /// The first `flags` line of `/proc/cpuinfo` as a set of words (empty when there is none).
    static func flags(cpuinfo: String?) -> Set<String> {
        guard let cpuinfo, let line = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return [] }
        return Set(line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == ":" }).map(String.init))
    }

    static func requireSIMD(flags: Set<String>) {
        let missing = missing(flags: flags)
        guard !missing.isEmpty else { return }
        FileHandle.standardError.write(Data("""
            error: this CPU lacks \(missing.joined(separator: " and ")) (not in the flags of /proc/cpuinfo); \
            treerpo's kernels are built for x86-64 CPUs with AVX2 and FMA (Intel Haswell, AMD Excavator/Zen or later)

            """.utf8))
        exit(2)
    }
}
