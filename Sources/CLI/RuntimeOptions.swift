import ArgumentParser
import Distributed
import Tensors

/// Options every compute command shares.
struct RuntimeOptions: ParsableArguments {
    @Option(help: "Threads for OpenBLAS and treerpo's own loops (default: all cores; under mpirun, each rank's share of its host's cores).")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 {
            throw ValidationError("--threads must be at least 1, got \(threads)")
        }
    }

    /// Applies the settings to the process; call first in `run()`.
    func apply() {
        Compute.setThreads(threads ?? max(1, Compute.defaultThreads / World.localSize))
    }
}
