import ArgumentParser
import Distributed
import Tensors

/// Options every compute command shares.
struct RuntimeOptions: ParsableArguments {
    @Option(help: "Threads for OpenBLAS and treerpo's own loops (default: all cores; under mpirun, each rank's share of its host's cores).")
    var threads: Int?

    @Option(name: .customLong("mpi-timeout"), help: "Under mpirun: seconds a rank waits for the others in one exchange before it ends the job.")
    var mpiTimeout: Double = 1800

    func validate() throws {
        if let threads, threads < 1 {
            throw ValidationError("--threads must be at least 1, got \(threads)")
        }
        guard mpiTimeout > 0 else { throw ValidationError("--mpi-timeout must be > 0 seconds, got \(mpiTimeout)") }
    }

    /// Applies the settings to the process; call first in `run()`.
    func apply() {
        Compute.setThreads(threads ?? max(1, Compute.defaultThreads / World.localSize))
    }
}
