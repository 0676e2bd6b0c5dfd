import Foundation
import FuzzTargets

// Two ways to run the readers on hostile bytes (see tools/fuzz.sh):
// - built with `-sanitize=fuzzer,address -D FUZZING`, libFuzzer drives `LLVMFuzzerTestOneInput`
//   with coverage feedback; the target comes from TREERPO_FUZZ_TARGET;
// - built plainly, `treerpo-fuzz TARGET SEED_FILE... [--cases N] [--seed S]` runs a seeded
//   mutation loop over the seed files, for machines without libFuzzer and for the unit tests.
// Either way a finding stops the process non-zero, naming the case that caused it.

#if FUZZING
nonisolated(unsafe) let fuzzTarget: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["TREERPO_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        FileHandle.standardError.write(Data("TREERPO_FUZZ_TARGET must be one of \(FuzzTarget.allCases.map(\.rawValue)), found '\(name)'\n".utf8))
        exit(64)
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    do {
        _ = try fuzzTarget.run(Data(bytes: data, count: size))
    } catch {
        fatalError("\(error)")  // a finding: libFuzzer saves the input as crash-*
    }
    return 0
}

typealias FuzzerCallback = @convention(c) (UnsafePointer<UInt8>, Int) -> CInt

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: FuzzerCallback) -> CInt

/// SwiftPM links an executable's entry point as `<module>_main`; here it hands over to libFuzzer's driver.
@_cdecl("treerpo_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var count = argc
    var vector: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return LLVMFuzzerRunDriver(&count, &vector, fuzzerTestOneInput)
}
#else
@main
struct FuzzMain {
    static func main() {
        var arguments = Array(CommandLine.arguments.dropFirst())
        func option(_ name: String, _ fallback: UInt64) -> UInt64 {
            guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count, let v = UInt64(arguments[i + 1]) else { return fallback }
            arguments.removeSubrange(i...(i + 1))
            return v
        }
        let cases = Int(option("--cases", 1000)), seed = option("--seed", 1)
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name), arguments.count >= 2 else {
            FileHandle.standardError.write(Data("usage: treerpo-fuzz \(FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")) SEED_FILE... [--cases N] [--seed S]\n".utf8))
            exit(64)
        }
        let seeds: [Data]
        do {
            seeds = try arguments.dropFirst().map { try Data(contentsOf: URL(fileURLWithPath: $0)) }
        } catch {
            FileHandle.standardError.write(Data("cannot read a seed file: \(error.localizedDescription)\n".utf8))
            exit(1)
        }
        var mutator = Mutator(seed: seed)
        var accepted = 0, refused = 0
        for n in 0..<cases {
            let input = mutator.mutate(seeds[n % seeds.count])
            do {
                switch try target.run(input) {
                case .accepted: accepted += 1
                case .refused: refused += 1
                }
            } catch {
                let file = FileManager.default.temporaryDirectory.appendingPathComponent("treerpo-fuzz-\(name)-seed\(seed)-case\(n)")
                try? input.write(to: file)
                FileHandle.standardError.write(Data("case \(n) (seed \(seed)): \(error)\ninput saved to \(file.path)\n".utf8))
                exit(1)
            }
        }
        print("\(name): \(cases) cases, \(accepted) accepted, \(refused) refused with a named error")
    }
}
#endif
