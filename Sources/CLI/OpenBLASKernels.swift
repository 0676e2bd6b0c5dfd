import COpenBLAS
import Foundation

/// OpenBLAS picks its kernels when the library loads, from the CPU's family and model numbers.
/// A CPU newer than the installed OpenBLAS gets its oldest x86-64 kernels: Debian 12's OpenBLAS
/// 0.3.21 takes Intel family 6 model 207 (Emerald Rapids, the 2-core cloud machines here) for
/// a Prescott (SSE3, 2004), and its sgemm runs 5-6x below the AVX-512 kernels (measured
/// here: 19 against 105 GFLOP/s on one core, medians of three; docs/speed.md). Since the kernels are chosen
/// before `main` runs, treerpo sets `OPENBLAS_CORETYPE` (OpenBLAS's own override) to the
/// kernels the CPU's flags can run and starts itself again, once, with the same arguments.
/// A user's own `OPENBLAS_CORETYPE` is left alone.
enum OpenBLASKernels {
    /// OpenBLAS core types whose sgemm uses AVX2 or AVX-512: never replaced.
    static let vectorCores: Set<String> = ["haswell", "zen", "skylakex", "cooperlake", "sapphirerapids", "excavator"]

    /// AVX-512 subsets the SkylakeX kernels use (the Linux kernel lists them only when it saves
    /// the AVX-512 registers).
    static let avx512Flags = ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]

    /// Environment variable carrying OpenBLAS's own choice across the restart, so `bench
    /// kernels` can say what was replaced.
    static let replacedVariable = "TREERPO_OPENBLAS_REPLACED_CORE"

    /// The core type to ask OpenBLAS for, or nil to keep its choice: only when OpenBLAS chose
    /// kernels without AVX2 on a CPU whose flags (`/proc/cpuinfo`) have AVX2 and FMA.
    static func replacement(chosen: String, cpuFlags: Set<String>) -> String? {
        guard !vectorCores.contains(chosen.lowercased()),
              cpuFlags.contains("avx2"), cpuFlags.contains("fma") else { return nil }
        return avx512Flags.allSatisfy(cpuFlags.contains) ? "SkylakeX" : "Haswell"
    }

    /// The core type OpenBLAS runs now (e.g. "Prescott", "SkylakeX").
    static var current: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// What `bench kernels` prints: the kernels in use and, after a restart, what they replaced.
    static var description: String {
        if let replaced = ProcessInfo.processInfo.environment[replacedVariable] {
            return "\(current) (OpenBLAS chose \(replaced) for this CPU; treerpo set OPENBLAS_CORETYPE=\(current))"
        }
        return current
    }

    /// Restarts the process with `OPENBLAS_CORETYPE` set when `replacement` says so. Returns
    /// only when no restart is needed or `execv` failed (then it goes on with OpenBLAS's
    /// choice, slower but correct).
    static func restartWithVectorKernelsIfNeeded(cpuFlags: Set<String>) {
        #if os(Linux) && arch(x86_64)
        let environment = ProcessInfo.processInfo.environment
        guard environment["OPENBLAS_CORETYPE"] == nil else { return }
        let chosen = current
        guard let core = replacement(chosen: chosen, cpuFlags: cpuFlags) else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        setenv(replacedVariable, chosen, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // Only reached when exec failed: run on, and do not claim the replacement.
        unsetenv("OPENBLAS_CORETYPE")
        unsetenv(replacedVariable)
        #endif
    }
}
