import Testing
@testable import treerpo

@Suite struct CPUFeaturesTests {
    #if arch(x86_64)
    @Test func flagsWithAVX2AndFMAPass() {
        let info = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma bmi2\n"
        #expect(CPUFeatures.missing(cpuinfo: info).isEmpty)
    }

    @Test func missingFlagsAreNamed() {
        let info = "processor\t: 0\nflags\t\t: fpu sse2 sse4_2 avx\n"
        #expect(CPUFeatures.missing(cpuinfo: info) == ["avx2", "fma"])
        // "avx2" must be a whole flag, not a prefix of another one.
        #expect(CPUFeatures.missing(cpuinfo: "flags\t: avx512f fma4\n") == ["avx2", "fma"])
    }

    @Test func thisMachinePasses() {
        // The tests themselves run the AVX2 kernels: had the check failed, they would have crashed.
        #expect(CPUFeatures.missing(flags: CPUFeatures.hostFlags()).isEmpty)
    }
    #endif

    @Test func unreadableCpuinfoIsNotAnError() {
        #expect(CPUFeatures.missing(cpuinfo: nil).isEmpty)
    }
}
