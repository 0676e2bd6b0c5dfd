import ArgumentParser
import Tensors

@main
struct Treerpo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "treerpo",
        abstract: "Fine-tune small language models with Tree Relative Policy Optimization.",
        subcommands: [Import.self, Generate.self, Sample.self, Finetune.self, Eval.self, Compare.self, Export.self, Report.self, DataCommand.self, Bench.self, Diagnose.self, ExportLogitsCommand.self]
    )

    /// Checks the CPU before any kernel runs (and restarts once with OpenBLAS's vector kernels
    /// when it chose its oldest ones: `OpenBLASKernels`), then parses and runs the command.
    /// Exit codes: 64 for a wrong command line (with usage), 1 for bad input files, 2 for
    /// runtime failures (`ExitStatus`).
    static func main() {
        let cpuFlags = CPUFeatures.hostFlags()
        CPUFeatures.requireSIMD(flags: cpuFlags)
        OpenBLASKernels.restartWithVectorKernelsIfNeeded(cpuFlags: cpuFlags)
        var command: ParsableCommand
        do {
            command = try parseAsRoot(nil)
        } catch {
            exit(withError: error)
        }
        ExitStatus.run(&command)
    }
}
