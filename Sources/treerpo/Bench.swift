import ArgumentParser
import Tensors

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure speed against a peer measured in the same run.",
        subcommands: []
    )
}
