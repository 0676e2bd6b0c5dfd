import Foundation
import Sampling
import ModelFiles
import ModelIO
import Transformer
#if canImport(Glibc)
import Glibc
#endif

/// `treerpo bench import`: our ONNX import into fp32 next to Python's `onnx.load` + conversion
/// of every initializer to numpy float32 (tools/bench_import.py --child), each in a fresh child
/// process so that peak memory (`wait4` max RSS) is that run's alone; runs alternate, medians
/// are reported. The command parses the options and prints what this measures.
public struct ImportBenchmark {
    /// One way of importing, run as a child process.
    public struct Variant: Sendable {
        public let name: String
        public let argv: [String]
    }

    /// What one round of one variant took.
    public struct Measurement: Sendable {
        public let round: Int
        public let variant: Int
        public let name: String
        public let seconds: Double
        public let maxRSSBytes: Int
    }

    public struct Result: Sendable {
        public let variants: [Variant]
        /// Per variant, one entry per round.
        public let seconds: [[Double]]
        public let peakBytes: [[Double]]
        /// The imported model's fp32 weights in bytes.
        public let weightBytes: Double

        public func medianSeconds(_ variant: Int) -> Double { Self.median(seconds[variant]) }
        public func medianPeakBytes(_ variant: Int) -> Double { Self.median(peakBytes[variant]) }
        /// The Python peer's index in `variants`.
        public var pythonVariant: Int { variants.count - 1 }
        /// The in-memory import's index in `variants`.
        public var inMemoryVariant: Int { 1 }

        static func median(_ xs: [Double]) -> Double { let s = xs.sorted(); return s[s.count / 2] }
    }

    /// The `.onnx` or `.gguf` model.
    public var model: String
    public var rounds: Int
    /// Python with the peer's libraries, and the peer script (`defaultScript` when nil).
    public var python: String
    public var script: String?
    /// This program (it runs `import` and the in-memory child of `bench import`).
    public var executable: String

    public init(model: String, rounds: Int, python: String, script: String?, executable: String) {
        self.model = model
        self.rounds = rounds
        self.python = python
        self.script = script
        self.executable = executable
    }

    public var isGGUF: Bool { model.lowercased().hasSuffix(".gguf") }

    /// The peer: for ONNX, `onnx.load` + every initializer to numpy float32
    /// (tools/bench_import.py); for GGUF, transformers' `from_pretrained(gguf_file=)` in float32
    /// (tools/bench_import_gguf.py). The table names the one that ran.
    public var peerLabel: String { isGGUF ? "transformers from_pretrained(gguf_file=)" : "python onnx.load + numpy float32" }
    public var defaultScript: String { isGGUF ? "tools/bench_import_gguf.py" : "tools/bench_import.py" }

    /// The running program's path (`/proc/self/exe`).
    public static func currentExecutable() throws -> String {
        try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    }

    /// The child of the in-memory variant: one import into memory (no workspace written);
    /// returns the number of parameters.
    public static func loadOnly(model: URL) throws -> Int {
        try Importer.load(.init(source: model)).parameters.count
    }

    /// The variants, writing the full import's workspace under `scratch`.
    public func variants(scratch: URL) -> [Variant] {
        [
            Variant(name: "treerpo import (fp32 safetensors written)",
                    argv: [executable, "import", model, "--workspace", scratch.appendingPathComponent("ws").path, "--replace"]),
            Variant(name: "treerpo import, in memory only",
                    argv: [executable, "bench", "import", "--model", model, "--child-load-only"]),
            Variant(name: peerLabel, argv: [python, script ?? defaultScript, "--child", model]),
        ]
    }

    /// Runs `rounds` alternating rounds, calling `progress` after each child.
    public func run(progress: (Measurement) -> Void = { _ in }) throws -> Result {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("treerpo-bench-import-\(getpid())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let variants = variants(scratch: scratch)
        var times = [[Double]](repeating: [], count: variants.count)
        var peaks = [[Double]](repeating: [], count: variants.count)
        for round in 1...max(1, rounds) {
            for (i, variant) in variants.enumerated() {
                let (seconds, maxRSS, status) = try ChildProcess.measure(variant.argv)
                guard status == 0 else {
                    throw BenchmarkError("\(variant.name) exited with status \(status): \(variant.argv.joined(separator: " "))")
                }
                times[i].append(seconds)
                peaks[i].append(Double(maxRSS))
                progress(Measurement(round: round, variant: i, name: variant.name, seconds: seconds, maxRSSBytes: maxRSS))
            }
        }
        let config = try ModelConfig(hf: .init(contentsOf: scratch.appendingPathComponent("ws/base/config.json")))
        let weightBytes = Double(config.parameterSpecs.reduce(0) { $0 + $1.count } * 4)
        return Result(variants: variants, seconds: times, peakBytes: peaks, weightBytes: weightBytes)
    }
}

/// Runs a command as a child process (stdout to /dev/null) and reports its wall time and peak
/// resident memory.
public enum ChildProcess {
    public static func measure(_ argv: [String]) throws -> (seconds: Double, maxRSSBytes: Int, status: Int32) {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        var cArgs = argv.map { strdup($0) }
        cArgs.append(nil)
        defer { for p in cArgs { free(p) } }
        var pid: pid_t = 0
        let start = DispatchTime.now().uptimeNanoseconds
        let rc = posix_spawn(&pid, argv[0], &actions, nil, cArgs, environ)
        guard rc == 0 else { throw BenchmarkError("cannot start \(argv[0]): errno \(rc)") }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 {
            guard errno == EINTR else { throw BenchmarkError("wait4 failed: errno \(errno)") }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let exited = (status & 0x7f) == 0
        return (seconds, usage.ru_maxrss * 1024, exited ? (status >> 8) & 0xff : 128 + (status & 0x7f))
    }
}
