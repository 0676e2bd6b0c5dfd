import ArgumentParser
import Foundation
import ModelFiles
import Sampling
import Tokenization
import ModelIO
import Transformer
import TreeRPO

/// What the process exits with, and the one line it prints, when a command fails:
///   64  the command line is wrong (ArgumentParser prints the message and the usage);
///    1  the input is bad: a model, config, tokenizer, data or checkpoint file that cannot be used;
///    2  the command failed while running: I/O (full disk, permissions), the reward command,
///       non-finite training, a request that does not fit in memory.
/// Runtime failures print no usage: nothing on the command line was wrong.
enum ExitStatus {
    static let badInput: Int32 = 1
    static let runtime: Int32 = 2

    static func code(for error: Error) -> Int32 {
        switch error {
        case let e as ExportError:
            return e.kind == .io ? runtime : badInput
        case is ImportError, is ModelFileError, is TokenizerError, is ModelConfigError, is DatasetError,
             is LoadError, is CheckpointError, is WorkspaceModelError, is ReportError, is InputError:
            return badInput
        default:
            return runtime
        }
    }

    /// The error in plain words: the library's own errors already name the file, field and value,
    /// and the setting, whose flag is added here (`CommandLineFlags`); Foundation's and the
    /// decoders' are described by `PlainErrorText`.
    static func message(for error: Error) -> String {
        if let e = error as? POSIXError { return String(cString: strerror(e.code.rawValue)) }
        if error is CocoaError || error is DecodingError { return PlainErrorText.describe(error) }
        return CommandLineFlags.message("\(error)", for: error)
    }

    /// An error ArgumentParser threw itself while the command ran: a command with subcommands
    /// asked for help (`treerpo --help` parses to the root command, whose run throws the help
    /// request). Its own type is internal, so it is known by its module.
    static func isParserError(_ error: Error) -> Bool {
        String(reflecting: type(of: error)).hasPrefix("ArgumentParser.")
    }

    /// Runs a parsed command; on failure prints `Error: message` on stderr and exits with the
    /// code above. Command-line errors keep ArgumentParser's handling (message, usage, 64).
    static func run(_ command: inout ParsableCommand) -> Never {
        do {
            try command.run()
            MPIJob.finish()
            exit(0)
        } catch let error as ValidationError {
            Treerpo.exit(withError: error)
        } catch let error where error is CleanExit || error is ExitCode || isParserError(error) {
            Treerpo.exit(withError: error)
        } catch {
            FileHandle.standardError.write(Data("\(MPIJob.messagePrefix)Error: \(message(for: error))\n".utf8))
            MPIJob.exit(code(for: error))
        }
    }
}

/// A bad input found by a command itself (no imported model, a missing tokenizer): exit 1.
struct InputError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A failure while running that is no fault of the command line or the inputs: exit 2.
struct RuntimeFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
