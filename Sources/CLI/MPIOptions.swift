import ArgumentParser

/// Options of the commands that run as the ranks of `mpirun` (finetune, eval, bench exchange).
struct MPIOptions: ParsableArguments {
    @Option(name: .customLong("mpi-timeout"), help: "Under mpirun: seconds a rank waits for the others in one exchange before it ends the job.")
    var mpiTimeout: Double = 1800

    func validate() throws {
        guard mpiTimeout > 0 else { throw ValidationError("--mpi-timeout must be > 0 seconds, got \(mpiTimeout)") }
    }
}
