/// A software prefetch: asks the memory system for a cache line that will be read soon, without
/// waiting for it (a plain load would stall once the miss reached the head of the reorder buffer).
///
/// Swift has no prefetch in its standard library; this binds LLVM's target-independent
/// `llvm.prefetch` intrinsic by name. Arguments (must be constants): read (0), locality
/// 0...3 (2: keep in L2 and outer caches), data cache (1). On x86-64 it compiles to `prefetcht1`,
/// which never faults, even on an address the process does not map.
enum Prefetch {
    @inline(__always)
    static func toL2(_ address: UnsafeRawPointer) {
        llvmPrefetch(address, 0, 2, 1)
    }
}

@_silgen_name("llvm.prefetch.p0")
private func llvmPrefetch(_ address: UnsafeRawPointer, _ write: Int32, _ locality: Int32, _ cacheType: Int32)
