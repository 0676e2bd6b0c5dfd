#if TREERPO_MPI
import CMPI
import Foundation

/// The ranks of `mpirun` (Open MPI), over MPI_COMM_WORLD. Every collective is non-blocking and
/// waited on with a deadline (`timeoutSeconds`), so a rank that hangs ends the job with a message
/// instead of leaving the others waiting; a rank that dies is reported by `mpirun`, which ends
/// the others. Only the thread that made it calls MPI (MPI_THREAD_SERIALIZED).
final class MPICommunicator: Communicator {
    let rank: Int
    let size: Int
    let timeoutSeconds: Double
    private let comm: MPI_Comm
    private(set) var traffic = Traffic()
    /// Floats per reduce-scatter/all-gather round of `sumInRankOrder`: the temporary receive
    /// buffer holds one round (64 MB).
    private static let floatsPerRound = 1 << 24
    /// Bytes per broadcast call: MPI counts are 32-bit.
    private static let bytesPerCall = 1 << 30

    init(timeoutSeconds: Double) throws {
        var provided: Int32 = 0
        guard MPI_Init_thread(nil, nil, treerpo_mpi_thread_serialized(), &provided) == MPI_SUCCESS else {
            throw CommunicatorError("MPI_Init_thread failed")
        }
        guard provided >= treerpo_mpi_thread_serialized() else {
            throw CommunicatorError("this MPI library offers thread level \(provided), treerpo needs MPI_THREAD_SERIALIZED (\(treerpo_mpi_thread_serialized()))")
        }
        comm = treerpo_mpi_comm_world()
        var r: Int32 = 0, s: Int32 = 0
        MPI_Comm_rank(comm, &r)
        MPI_Comm_size(comm, &s)
        rank = Int(r)
        size = Int(s)
        self.timeoutSeconds = timeoutSeconds
    }

    /// Waits for `request`, polling; past the deadline, a `CommunicatorError` naming `what`.
    private func wait(_ request: inout MPI_Request?, _ what: String, started start: UInt64, sent: Int) throws {
        defer {
            traffic.seconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            traffic.bytesSent += sent
        }
        var done: Int32 = 0
        var polls = 0
        while true {
            MPI_Test(&request, &done, treerpo_mpi_status_ignore())
            if done != 0 { return }
            polls += 1
            // Spin briefly (a collective of ranks that arrive together ends in microseconds),
            // then sleep between polls so a waiting rank leaves its core to the others.
            if polls > 2000 { usleep(polls > 20000 ? 1000 : 50) }
            if polls % 64 == 0, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 > timeoutSeconds {
                throw CommunicatorError("""
                    rank \(rank) of \(size) waited more than \(Int(timeoutSeconds)) s for the other ranks in \(what): \
                    a rank has died, hangs or is far slower; ending the job (the time-out is --mpi-timeout)
                    """)
            }
        }
    }

    func allGather(_ bytes: [UInt8]) throws -> [[UInt8]] {
        var started = DispatchTime.now().uptimeNanoseconds
        var mine = Int64(bytes.count)
        var counts = [Int64](repeating: 0, count: size)
        var request: MPI_Request? = treerpo_mpi_request_null()
        MPI_Iallgather(&mine, 1, treerpo_mpi_int64(), &counts, 1, treerpo_mpi_int64(), comm, &request)
        try wait(&request, "an all-gather of sizes", started: started, sent: 8 * (size - 1))
        let total = counts.reduce(0, +)
        guard total <= Int64(Int32.max) else {
            throw CommunicatorError("an all-gather of \(total) bytes is over MPI's limit of \(Int32.max) bytes per call")
        }
        var receiveCounts = counts.map { Int32($0) }
        var displacements = [Int32](repeating: 0, count: size)
        for i in 1..<max(1, size) { displacements[i] = displacements[i - 1] + receiveCounts[i - 1] }
        var all = [UInt8](repeating: 0, count: Int(total))
        var sent = bytes
        started = DispatchTime.now().uptimeNanoseconds
        try sent.withUnsafeMutableBytes { send in
            try all.withUnsafeMutableBytes { receive in
                MPI_Iallgatherv(send.baseAddress, Int32(send.count), treerpo_mpi_byte(),
                                receive.baseAddress, &receiveCounts, &displacements, treerpo_mpi_byte(), comm, &request)
                try wait(&request, "an all-gather of \(total) bytes", started: started, sent: send.count * (size - 1))
            }
        }
        return (0..<size).map { Array(all[Int(displacements[$0])..<Int(displacements[$0] + receiveCounts[$0])]) }
    }

    func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int) throws {
        var at = 0
        while at < bytes {
            let n = min(Self.bytesPerCall, bytes - at)
            let started = DispatchTime.now().uptimeNanoseconds
            var request: MPI_Request? = treerpo_mpi_request_null()
            MPI_Ibcast(buffer + at, Int32(n), treerpo_mpi_byte(), Int32(root), comm, &request)
            try wait(&request, "a broadcast of \(bytes) bytes from rank \(root)", started: started,
                     sent: rank == root ? n * (size - 1) : 0)
            at += n
        }
    }

    /// Reduce-scatter then all-gather, each rank summing one contiguous segment of every round:
    /// rank j receives segment j of every rank's floats (all-to-all), adds them in rank order,
    /// and the sums are gathered back into every rank's buffer. Moves 2 (size - 1) / size of the
    /// buffer per rank, as a ring all-reduce does, but the order of the additions is fixed.
    func sumInRankOrder(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws {
        guard size > 1 else { return }
        let longest = Self.segment(0, of: size, count: min(Self.floatsPerRound, count)).count
        // Round k's segments of every rank, rank j's at j * longest; then this rank's sums.
        let received = UnsafeMutablePointer<Float>.allocate(capacity: size * longest)
        let sums = UnsafeMutablePointer<Float>.allocate(capacity: longest)
        defer { received.deallocate(); sums.deallocate() }
        var start = 0
        while start < count {
            let n = min(Self.floatsPerRound, count - start)
            var started = DispatchTime.now().uptimeNanoseconds
            let segments = (0..<size).map { Self.segment($0, of: size, count: n) }
            let mine = segments[rank].count
            var sendCounts = segments.map { Int32($0.count) }
            var sendDisplacements = segments.map { Int32($0.lowerBound) }
            var receiveCounts = [Int32](repeating: Int32(mine), count: size)
            var receiveDisplacements = (0..<size).map { Int32($0 * mine) }
            var request: MPI_Request? = treerpo_mpi_request_null()
            MPI_Ialltoallv(buffer + start, &sendCounts, &sendDisplacements, treerpo_mpi_float(),
                           received, &receiveCounts, &receiveDisplacements, treerpo_mpi_float(), comm, &request)
            try wait(&request, "the gradient sum (reduce-scatter of \(n) floats)", started: started, sent: 4 * (n - mine))
            sums.update(from: received, count: mine)
            for j in 1..<size {
                let theirs = received + j * mine
                for i in 0..<mine { sums[i] += theirs[i] }
            }
            started = DispatchTime.now().uptimeNanoseconds
            MPI_Iallgatherv(sums, Int32(mine), treerpo_mpi_float(),
                            buffer + start, &sendCounts, &sendDisplacements, treerpo_mpi_float(), comm, &request)
            try wait(&request, "the gradient sum (all-gather of \(n) floats)", started: started, sent: 4 * mine * (size - 1))
            start += n
        }
    }

    func sumWithLibraryAllReduce(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws {
        var start = 0
        while start < count {
            let n = min(Self.floatsPerRound, count - start)
            let started = DispatchTime.now().uptimeNanoseconds
            var request: MPI_Request? = treerpo_mpi_request_null()
            MPI_Iallreduce(treerpo_mpi_in_place(), buffer + start, Int32(n), treerpo_mpi_float(), treerpo_mpi_sum(), comm, &request)
            try wait(&request, "MPI_Allreduce of \(n) floats", started: started, sent: 8 * n * (size - 1) / size)
            start += n
        }
    }

    /// Contiguous segment `j` of `parts` over `0..<count`, the first `count % parts` one longer.
    static func segment(_ j: Int, of parts: Int, count: Int) -> Range<Int> {
        let base = count / parts, extra = count % parts
        let lower = j * base + min(j, extra)
        return lower..<(lower + base + (j < extra ? 1 : 0))
    }

    func abort(status: Int32) -> Never {
        MPI_Abort(comm, status)
        exit(status)
    }

    func finish() {
        MPI_Finalize()
    }
}
#endif
