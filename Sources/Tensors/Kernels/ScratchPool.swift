import Foundation

/// Float scratch kept between calls: `Attention`'s score buffers, so that a training step (two
/// attention calls per layer) allocates and page-faults them once instead of per call, and
/// `Gemm.fewRowsOuter`'s packed rows of A, so that a decode step allocates nothing.
///
/// `with(count:)` lends a buffer of at least `count` floats for the duration of `body`;
/// concurrent callers get distinct buffers. At most `keep` buffers are kept; a lent buffer
/// too small for the next caller is replaced by a larger one.
final class ScratchPool: @unchecked Sendable {
    static let shared = ScratchPool()

    private let lock = NSLock()
    private var free: [(pointer: UnsafeMutablePointer<Float>, capacity: Int)] = []
    private let keep = 4

    func with<R>(count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        let buffer = take(max(1, count))
        defer { give(buffer) }
        return try body(buffer.pointer)
    }

    private func take(_ count: Int) -> (pointer: UnsafeMutablePointer<Float>, capacity: Int) {
        lock.lock()
        if let i = free.firstIndex(where: { $0.capacity >= count }) {
            defer { lock.unlock() }
            return free.remove(at: i)
        }
        // None big enough: drop the largest too-small one (it would never be used again).
        let small = free.indices.max { free[$0].capacity < free[$1].capacity }.map { free.remove(at: $0) }
        lock.unlock()
        small?.pointer.deallocate()
        return (.allocate(capacity: count), count)
    }

    private func give(_ buffer: (pointer: UnsafeMutablePointer<Float>, capacity: Int)) {
        lock.lock()
        if free.count < keep {
            free.append(buffer)
            lock.unlock()
        } else {
            lock.unlock()
            buffer.pointer.deallocate()
        }
    }
}
