/// The processes of one data-parallel job (issue 15, docs/mpi.md): ranks 0..<size, each running
/// the same program on its share of the work. Every collective call must be made by every rank,
/// in the same order; each returns the same value on every rank. A collective that waits longer
/// than the job's time-out ends the whole job (a rank that died or hangs never leaves the others
/// waiting for ever).
public protocol Communicator: AnyObject {
    /// This process, 0..<size; rank 0 writes the run's files and prints.
    var rank: Int { get }
    var size: Int { get }
    /// Every rank's bytes (any length, possibly empty), in rank order.
    func allGather(_ bytes: [UInt8]) throws -> [[UInt8]]
    /// `bytes` bytes at `buffer` on `root` copied into `buffer` on every other rank (the same
    /// count on every rank).
    func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int) throws
    /// `count` floats at `buffer` replaced on every rank by their sum over the ranks, added in
    /// rank order, ((x0 + x1) + x2) + ..., so the result does not depend on timing or on the
    /// transport: the same inputs always give the same bits.
    func sumInRankOrder(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws
    /// `sumInRankOrder` through the library's own all-reduce (MPI_Allreduce), whose order of
    /// additions is its own: the peer `treerpo bench exchange` measures against.
    func sumWithLibraryAllReduce(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws
    /// What this rank has spent in collective calls since it joined.
    var traffic: Traffic { get }
    /// Ends every rank of the job now with exit status `status` (after a failure on this rank
    /// that the others cannot see, so they do not wait for it).
    func abort(status: Int32) -> Never
    /// Ends the job normally (MPI_Finalize); no collective call may follow.
    func finish()
}

extension Communicator {
    public var isRoot: Bool { rank == 0 }

    /// Root's bytes on every rank.
    public func broadcast(_ bytes: [UInt8], root: Int = 0) throws -> [UInt8] {
        guard size > 1 else { return bytes }
        var count = Int64(rank == root ? bytes.count : 0)
        try broadcast(&count, bytes: 8, root: root)
        var out = rank == root ? bytes : [UInt8](repeating: 0, count: Int(count))
        try out.withUnsafeMutableBytes { raw in
            if let base = raw.baseAddress { try broadcast(base, bytes: raw.count, root: root) }
        }
        return out
    }

    /// Returns when every rank has called it.
    public func barrier() throws {
        _ = try allGather([])
    }

    /// `values` (the same count on every rank) summed over the ranks in rank order,
    /// ((x0 + x1) + x2) + ..., on every rank: for small Double buffers (the large Float
    /// gradient goes through `sumInRankOrder(_:count:)`).
    public func sumInRankOrder(_ values: [Double]) throws -> [Double] {
        guard size > 1 else { return values }
        let all = try allGather(values.withUnsafeBytes { Array($0) })
        var sums = [Double](repeating: 0, count: values.count)
        for (rank, bytes) in all.enumerated() {
            guard bytes.count == values.count * 8 else {
                throw CommunicatorError("rank \(rank) sent \(bytes.count / 8) Doubles to sum, this rank \(values.count)")
            }
            bytes.withUnsafeBytes { raw in
                for i in sums.indices {
                    let x = raw.loadUnaligned(fromByteOffset: i * 8, as: Double.self)
                    sums[i] = rank == 0 ? x : sums[i] + x
                }
            }
        }
        return sums
    }

    /// Whether every rank passed the same `text`; the ranks whose text differs from rank 0's
    /// otherwise, by number.
    public func ranksDiffering(from text: String) throws -> [Int] {
        let all = try allGather(Array(text.utf8))
        return all.indices.filter { all[$0] != all[0] }
    }
}

/// Time in collective calls (waiting for slower ranks included) and the bytes this rank sent
/// in them (a broadcast counts once per receiving rank).
public struct Traffic: Equatable, Sendable {
    public var seconds = 0.0
    public var bytesSent = 0
    public init(seconds: Double = 0, bytesSent: Int = 0) {
        self.seconds = seconds
        self.bytesSent = bytesSent
    }
}

/// A collective call that could not complete: a rank is gone, hangs, or sent what this one did
/// not expect.
public struct CommunicatorError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "mpi: \(message)" }
}
