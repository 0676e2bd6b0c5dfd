import Foundation

/// The kernels in Tensors and Transformer are compiled for AVX2 and FMA on x86-64 (see
/// Package.swift). On an older CPU their first SIMD instruction would kill the process with
/// SIGILL and no word of why; this check runs before any of them and says so instead.
enum CPUFeatures {
    static let required = ["avx2", "fma"]

    /// The required flags `/proc/cpuinfo` does not list; empty when all are there, when the
    /// file cannot be read (not Linux), or off x86-64.
    static func missing(cpuinfo: String? = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) -> [String] {
        #if arch(x86_64)
        let flags = flags(cpuinfo: cpuinfo)
        guard !flags.isEmpty else { return [] }
        return required.filter { !flags.contains($0) }
        #else
        return []
        #endif
    }

    /// The first `flags` line of `/proc/cpuinfo` as a set of words (empty when there is none).
    static func flags(cpuinfo: String?) -> Set<String> {
        guard let cpuinfo, let line = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return [] }
        return Set(line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == ":" }).map(String.init))
    }

    static func requireSIMD() {
        let missing = missing()
        guard !missing.isEmpty else { return }
        FileHandle.standardError.write(Data("""
            error: this CPU lacks \(missing.joined(separator: " and ")) (not in the flags of /proc/cpuinfo); \
            treerpo's kernels are built for x86-64 CPUs with AVX2 and FMA (Intel Haswell, AMD Excavator/Zen or later)

            """.utf8))
        exit(2)
    }
}
