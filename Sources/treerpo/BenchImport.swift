import ArgumentParser
import Foundation
import Transformer
#if canImport(Glibc)
import Glibc
#endif

/// `treerpo bench import`: our import into fp32 next to the Python way to the same weights, each
/// in a fresh child process so that peak memory (`wait4` max RSS) is that run's alone; runs
/// alternate, medians are reported. The peer: for an ONNX model `onnx.load` + conversion of every
/// initializer to numpy float32 (tools/bench_import.py --child), for a GGUF transformers'
/// `from_pretrained(gguf_file=)` in float32 (tools/bench_import_gguf.py --child); the table
/// names the one that ran.
struct BenchImport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import wall time and peak memory next to Python: onnx.load + numpy float32 for ONNX, transformers from_pretrained(gguf_file=) for GGUF.",
        discussion: "Make an ONNX model with: .venv-tools/bin/python tools/make_import_bench_model.py"
    )

    @Option(help: "The .onnx or .gguf model to import.")
    var model: String

    @Option(help: "Alternating rounds (medians are reported).")
    var rounds = 3

    @Option(help: "Python with onnx and numpy (ONNX) or torch and transformers (GGUF) for the peer measurement.")
    var python = ".venv-tools/bin/python"

    @Option(help: "The peer script. Default: tools/bench_import_gguf.py for a .gguf model, else tools/bench_import.py.")
    var script: String?

    var isGGUF: Bool { model.lowercased().hasSuffix(".gguf") }

    /// The peer's row label in the table.
    var peerLabel: String { isGGUF ? "transformers from_pretrained(gguf_file=)" : "python onnx.load + numpy float32" }

    /// Internal: run one in-memory import (no workspace written) and exit.
    @Flag(help: .hidden)
    var childLoadOnly = false

    func validate() throws {
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1, got \(rounds)") }
    }

    func run() throws {
        let modelURL = URL(fileURLWithPath: model)
        if childLoadOnly {
            let loaded = try Importer.load(.init(source: modelURL))
            print(loaded.parameters.count)
            return
        }
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("treerpo-bench-import-\(getpid())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }

        let variants: [(String, [String])] = [
            ("treerpo import (fp32 safetensors written)", [exe, "import", model, "--workspace", scratch.appendingPathComponent("ws").path, "--replace"]),
            ("treerpo import, in memory only", [exe, "bench", "import", "--model", model, "--child-load-only"]),
            (peerLabel, [python, script ?? (isGGUF ? "tools/bench_import_gguf.py" : "tools/bench_import.py"), "--child", model]),
        ]
        var times = [[Double]](repeating: [], count: variants.count)
        var peaks = [[Double]](repeating: [], count: variants.count)
        print("treerpo bench import: \(model), \(rounds) alternating rounds, each run a fresh process")
        for round in 1...rounds {
            for (i, (name, argv)) in variants.enumerated() {
                let (seconds, maxRSS, status) = try ChildProcess.measure(argv)
                guard status == 0 else { throw RuntimeFailure("\(name) exited with status \(status): \(argv.joined(separator: " "))") }
                times[i].append(seconds)
                peaks[i].append(Double(maxRSS))
                print("  round \(round)  " + name.padding(toLength: 44, withPad: " ", startingAt: 0)
                      + String(format: "%7.2f s  %7.0f MB", seconds, Double(maxRSS) / 1e6))
            }
        }
        let config = try ModelConfig(hf: .init(contentsOf: scratch.appendingPathComponent("ws/base/config.json")))
        let weightBytes = Double(config.parameterSpecs.reduce(0) { $0 + $1.count } * 4)
        func median(_ xs: [Double]) -> Double { let s = xs.sorted(); return s[s.count / 2] }
        let pythonTime = median(times[2]), pythonPeak = median(peaks[2])
        print("")
        print(Table.render(
            header: ["variant", "median s", "peak MB", "peak / fp32 weights", "python time / ours"],
            rows: variants.indices.map { i in
                [variants[i].0, String(format: "%.2f", median(times[i])), String(format: "%.0f", median(peaks[i]) / 1e6),
                 String(format: "%.2fx", median(peaks[i]) / weightBytes), String(format: "%.2f", pythonTime / median(times[i]))]
            }))
        print(String(format: "\nfp32 weights: %.0f MB (%d parameters); python peak / ours (in memory): %.2f",
                     weightBytes / 1e6, Int(weightBytes / 4), pythonPeak / median(peaks[1])))
    }
}

/// Runs a command as a child process and reports its wall time and peak resident memory.
enum ChildProcess {
    static func measure(_ argv: [String]) throws -> (seconds: Double, maxRSSBytes: Int, status: Int32) {
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
        guard rc == 0 else { throw RuntimeFailure("cannot start \(argv[0]): errno \(rc)") }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 {
            guard errno == EINTR else { throw RuntimeFailure("wait4 failed: errno \(errno)") }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let exited = (status & 0x7f) == 0
        return (seconds, usage.ru_maxrss * 1024, exited ? (status >> 8) & 0xff : 128 + (status & 0x7f))
    }
}
