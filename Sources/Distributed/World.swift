import Foundation

/// The job this process belongs to.
public enum World {
    /// The number of processes `mpirun` started, from the environment Open MPI gives each of
    /// them (`OMPI_COMM_WORLD_SIZE`; `PMI_SIZE` for other launchers); nil outside a launcher.
    public static var launchedSize: Int? {
        let env = ProcessInfo.processInfo.environment
        return (env["OMPI_COMM_WORLD_SIZE"] ?? env["PMI_SIZE"]).flatMap { Int($0) }
    }

    /// Processes of the job on this host (`OMPI_COMM_WORLD_LOCAL_SIZE`), 1 outside `mpirun`: each
    /// rank's default thread count is this host's cores divided by it.
    public static var localSize: Int {
        ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap { Int($0) }.map { max(1, $0) } ?? 1
    }

    /// Whether this binary was built with MPI (TREERPO_MPI=1).
    public static var mpiBuilt: Bool {
        #if TREERPO_MPI
        true
        #else
        false
        #endif
    }

    /// The communicator of this process: MPI's when started by `mpirun` with two processes or
    /// more, else a single process. Started by `mpirun -np 2` or more without MPI built in, an
    /// error: each process would otherwise train alone and write the same run folder.
    public static func communicator(timeoutSeconds: Double) throws -> any Communicator {
        guard let n = launchedSize, n > 1 else { return SingleProcess() }
        #if TREERPO_MPI
        return try MPICommunicator(timeoutSeconds: timeoutSeconds)
        #else
        throw CommunicatorError("""
            started by mpirun as one of \(n) processes, but this treerpo was built without MPI: \
            build it with TREERPO_MPI=1 (docs/mpi.md), or run it without mpirun
            """)
        #endif
    }
}
