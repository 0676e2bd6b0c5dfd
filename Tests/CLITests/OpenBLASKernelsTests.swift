import Foundation
import Testing
import TestSupport
@testable import treerpo

/// treerpo replaces OpenBLAS's oldest kernels with its AVX2 or AVX-512 ones when the CPU has
/// them (`OpenBLASKernels`): the rule by hand, then the built program on this machine.
@Suite struct OpenBLASKernelsTests {
    static let avx2 = CPUFeatures.flags(cpuinfo: "flags\t: fpu sse3 avx avx2 fma bmi2\n")
    static let avx512 = avx2.union(["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"])

    @Test func oldKernelsOnAVX2CPUsAreReplaced() {
        #expect(OpenBLASKernels.replacement(chosen: "Prescott", cpuFlags: Self.avx2) == "Haswell")
        #expect(OpenBLASKernels.replacement(chosen: "Prescott", cpuFlags: Self.avx512) == "SkylakeX")
        #expect(OpenBLASKernels.replacement(chosen: "Sandybridge", cpuFlags: Self.avx512) == "SkylakeX")
        // AVX-512 without one of the subsets the SkylakeX kernels use: the AVX2 kernels.
        #expect(OpenBLASKernels.replacement(chosen: "Prescott", cpuFlags: Self.avx512.subtracting(["avx512bw"])) == "Haswell")
    }

    @Test func vectorKernelsAndOldCPUsAreLeftAlone() {
        for core in ["Haswell", "SkylakeX", "Zen", "COOPERLAKE", "SapphireRapids", "Excavator"] {
            #expect(OpenBLASKernels.replacement(chosen: core, cpuFlags: Self.avx512) == nil, "\(core)")
        }
        let sse = CPUFeatures.flags(cpuinfo: "flags\t: fpu sse3 avx\n")
        #expect(OpenBLASKernels.replacement(chosen: "Prescott", cpuFlags: sse) == nil)
        #expect(OpenBLASKernels.replacement(chosen: "Prescott", cpuFlags: []) == nil)
    }

    /// The program's own sgemm runs kernels with AVX2 or AVX-512 whenever this CPU has AVX2 and
    /// FMA (on a CPU the installed OpenBLAS does not know, it picks Prescott's without treerpo's
    /// restart), and a user's OPENBLAS_CORETYPE is kept.
    @Test func theProgramRunsVectorKernelsOnThisMachine() throws {
        #if os(Linux) && arch(x86_64)
        let flags = CPUFeatures.hostFlags()
        guard flags.contains("avx2") && flags.contains("fma") else { return }
        let core = try Self.core(environment: ["OPENBLAS_CORETYPE": nil])
        #expect(OpenBLASKernels.vectorCores.contains(core.lowercased()), "treerpo ran OpenBLAS's \(core) kernels")
        #expect(try Self.core(environment: ["OPENBLAS_CORETYPE": "Haswell"]) == "Haswell")
        #endif
    }

    /// `openblas_core` of `treerpo bench kernels --peak-json --rounds 1`, run with `environment`
    /// changed (nil removes a variable).
    static func core(environment changes: [String: String?]) throws -> String {
        var changes = changes
        changes[OpenBLASKernels.replacedVariable] = .some(nil)
        let o = try TreerpoProgram.run(["bench", "kernels", "--peak-json", "--rounds", "1", "--threads", "1"], environment: changes)
        #expect(o.status == 0, "\(o.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(o.stdout.utf8)) as? [String: Any])
        return try #require(object["openblas_core"] as? String)
    }
}
