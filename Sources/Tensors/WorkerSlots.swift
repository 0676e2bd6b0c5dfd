import Foundation

/// One result slot per piece of work that `Compute.dataParallel` workers fill in: each worker
/// writes only its own indices, and the caller reads them after every worker has finished. The
/// lock makes the writes safe whatever the array's storage does.
public final class WorkerSlots<Value>: @unchecked Sendable {
    private var slots: [Value]
    private let lock = NSLock()

    /// `count` slots, each holding `initial` until written.
    public init(_ count: Int, initial: Value) { slots = Array(repeating: initial, count: count) }

    public subscript(i: Int) -> Value {
        get { lock.lock(); defer { lock.unlock() }; return slots[i] }
        set { lock.lock(); slots[i] = newValue; lock.unlock() }
    }

    /// Every slot, in index order.
    public var values: [Value] { lock.lock(); defer { lock.unlock() }; return slots }
}
