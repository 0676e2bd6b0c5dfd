import Foundation

/// The built `treerpo` executable run as a user runs it: to its end, with its exit status and
/// everything it printed.
public enum TreerpoProgram {
    public struct Outcome {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs `treerpo arguments` with this process's environment changed by `changes` (nil
    /// removes a variable). stdout and stderr are read concurrently: a full pipe would block
    /// the child.
    public static func run(_ arguments: [String], environment changes: [String: String?] = [:]) throws -> Outcome {
        let p = Process()
        p.executableURL = try Repository.treerpoExecutable()
        p.arguments = arguments
        if !changes.isEmpty {
            var environment = ProcessInfo.processInfo.environment
            for (name, value) in changes { environment[name] = value }
            p.environment = environment
        }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        nonisolated(unsafe) var errData = Data()
        let reader = Thread { errData = err.fileHandleForReading.readDataToEndOfFile() }
        reader.start()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        while !reader.isFinished { usleep(1000) }
        return Outcome(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                       stderr: String(decoding: errData, as: UTF8.self))
    }
}
