import Distributed
import Foundation

/// The job a command runs in: one process, or the ranks of `mpirun` (finetune and eval,
/// docs/mpi.md). `ExitStatus.run` ends it: MPI_Finalize after success; after a failure on any
/// rank, that rank prints its error and ends every rank (MPI_Abort), so none waits for it.
enum MPIJob {
    nonisolated(unsafe) static var current: (any Communicator)?

    /// Joins the job of this process and checks that every rank runs the same binary with the
    /// same arguments (a rank on another host with another build ends the job here).
    static func start(timeoutSeconds: Double) throws -> any Communicator {
        let communicator = try World.communicator(timeoutSeconds: timeoutSeconds)
        current = communicator
        if communicator.size > 1 {
            let differing = try communicator.ranksDiffering(from: programFingerprint())
            guard differing.isEmpty else {
                throw RuntimeFailure("""
                    ranks \(differing.map(String.init).joined(separator: ", ")) of \(communicator.size) run another \
                    treerpo binary or other arguments than rank 0 (\(CommandLine.arguments.joined(separator: " "))): \
                    every rank must run the same build with the same command line
                    """)
            }
        }
        return communicator
    }

    /// A digest of this executable's bytes and the command line.
    static func programFingerprint() -> String {
        var digest = Digest64()
        if let binary = FileManager.default.contents(atPath: "/proc/self/exe") ?? FileManager.default.contents(atPath: CommandLine.arguments[0]) {
            digest.add(bytes: binary)
        }
        for argument in CommandLine.arguments.dropFirst() { digest.add(argument) }
        return String(digest.value, radix: 16)
    }

    /// The prefix of a rank's messages on stderr in a job of several ("" for rank 0 and alone).
    static var messagePrefix: String {
        guard let c = current, c.size > 1, c.rank > 0 else { return "" }
        return "rank \(c.rank) of \(c.size): "
    }

    /// Whether this process prints progress and results: rank 0, or the only process.
    static var prints: Bool { (current?.rank ?? 0) == 0 }

    static func finish() { current?.finish() }

    /// Exits with `status`; in a job of several ranks, ends all of them.
    static func exit(_ status: Int32) -> Never {
        if let c = current, c.size > 1 { c.abort(status: status) }
        Foundation.exit(status)
    }
}
