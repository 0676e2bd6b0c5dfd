import Foundation
import Testing
import TestSupport
@testable import FuzzTargets
import Tokenization

/// A real `TokenizerError`, as the tokenizer throws it for an empty file.
enum TokenizerErrorProbe {
    static func make() -> Error {
        do { _ = try Tokenizer(json: Data(), fileName: "tokenizer.json"); return CocoaError(.fileReadUnknown) } catch { return error }
    }
}

/// The fuzz targets as unit tests: a seeded mutation loop over the committed fixtures of each kind
/// (tools/fuzz.sh runs the same targets under libFuzzer and AddressSanitizer). Every mutated file
/// is accepted or refused with one of the library's own errors naming the file; both happen, so
/// the mutations reach past the first check.
@Suite struct FuzzLoopTests {
    static let repository = Repository.root

    static func seeds(_ paths: [String]) throws -> [Data] {
        try paths.map { try Data(contentsOf: repository.appendingPathComponent($0)) }
    }

    static let cases: [(FuzzTarget, [String], Int)] = [
        (.config, ["Fixtures/models/llama-hf/config.json", "Fixtures/models/gpt2-hf/config.json",
                   "Fuzz/corpus/config/qwen2-small.json"], 4000),
        (.tokenizer, ["Tests/TokenizationTests/Fixtures/gpt2.tokenizer.json", "Fuzz/corpus/tokenizer/minimal-bytelevel.json"], 600),
        (.safetensors, ["Fixtures/models/qwen2-hf/model.safetensors"], 300),
        (.onnx, ["Fixtures/models/llama-legacy-folded/model.onnx"], 200),
        (.gguf, ["Fixtures/models/llama-gguf/model.gguf", "Fixtures/gguf-tokenizer/gguf-tokenizer.gguf"], 200),
    ]

    @Test(.timeLimit(.minutes(2)), arguments: 0..<cases.count)
    func mutatedInputsAreAcceptedOrRefusedWithANamedError(index: Int) throws {
        let (target, paths, count) = Self.cases[index]
        let seeds = try Self.seeds(paths)
        var mutator = Mutator(seed: 0xF022 + UInt64(index))
        var accepted = 0, refused = 0
        for n in 0..<count {
            let input = mutator.mutate(seeds[n % seeds.count])
            do {
                switch try target.run(input) {
                case .accepted: accepted += 1
                case .refused(let message):
                    refused += 1
                    #expect(message.contains(target.fileName), "case \(n): \(message)")
                }
            } catch {
                Issue.record("\(target) case \(n): \(error)")
                return
            }
        }
        #expect(accepted > 0 && refused > 0, "\(target): \(accepted) accepted, \(refused) refused")
    }

    /// Every committed corpus file (Fuzz/corpus/TARGET/, findings of earlier fuzzing among them,
    /// such as a GGUF whose rms_norm_eps is infinite, which crashed the import writing config.json)
    /// is accepted or refused with a named error.
    @Test func committedCorpusInputsAreHandled() throws {
        let corpus = Self.repository.appendingPathComponent("Fuzz/corpus")
        var seen = 0
        for target in FuzzTarget.allCases {
            let folder = corpus.appendingPathComponent(target.rawValue)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [] {
                let bytes = try Data(contentsOf: folder.appendingPathComponent(name))
                #expect(throws: Never.self, "\(target.rawValue)/\(name)") { _ = try target.run(bytes) }
                seen += 1
            }
        }
        #expect(seen >= 5, "only \(seen) corpus files under \(corpus.path)")
    }

    /// The harness itself can fail: an error that is not the library's own is a finding.
    @Test func anErrorOfAnotherTypeIsAFinding() {
        #expect(!FuzzTarget.isLibraryError(CocoaError(.fileReadUnknown)))
        #expect(!FuzzTarget.isLibraryError(DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "x"))))
        #expect(FuzzTarget.isLibraryError(TokenizerErrorProbe.make()))
    }
}
