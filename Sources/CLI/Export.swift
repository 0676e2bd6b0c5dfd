import ArgumentParser
import Foundation
import ModelFiles
import ModelIO
import Transformer

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a checkpoint back out: into the imported ONNX graph or GGUF file, and as a Hugging Face folder.",
        discussion: """
        Writes OUT/onnx/model.onnx (the imported graph with every mapped initializer replaced, in \
        its original type, layout and storage; external data files keep their names), \
        OUT/gguf/NAME.gguf for a model imported from GGUF (same metadata and tensor order; each \
        tensor in its source type, re-quantised by llama.cpp's reference algorithm when it \
        changed, else byte for byte; or every 2-D tensor in --gguf-type), OUT/hf/ \
        (model.safetensors F32 with canonical names, config.json, generation_config.json, \
        tokenizer files) and OUT/EXPORT.md (provenance). Default checkpoint: the newest of the \
        run that saved last; without any, the imported model itself. Everything is written under \
        a temporary name and renamed into place at the end.
        """
    )

    @Option(help: "Workspace folder.")
    var workspace = Workspace.defaultFolderName

    @Option(help: "Checkpoint: a run name (its newest), RUN/step-N, a checkpoint folder, or 'base' (the import). Default: the newest checkpoint of the run that saved last.")
    var checkpoint: String?

    @Option(help: "Output folder (default: WORKSPACE/export).")
    var out: String?

    @Option(help: "Comma-separated formats: onnx, gguf, safetensors (default: safetensors, plus onnx or gguf for a model imported from one).")
    var format: String?

    @Option(name: .customLong("gguf-type"), help: "GGUF export: f32, f16 or q8_0 for every 2-D tensor (default: each tensor's source type).")
    var ggufType: String?

    @Option(name: .customLong("max-shard-size"), help: "Largest safetensors shard, e.g. 5GB, 500MB, 1000000 (bytes).")
    var maxShardSize = "5GB"

    @Flag(help: "Replace an existing export folder.")
    var replace = false

    func parsedFormats() throws -> Set<Exporter.Format>? {
        guard let format else { return nil }
        var result: Set<Exporter.Format> = []
        for name in format.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) {
            guard let f = Exporter.Format(rawValue: name == "hf" ? "safetensors" : name) else {
                throw ValidationError("--format: expected onnx, gguf or safetensors (comma-separated), found '\(name)'")
            }
            result.insert(f)
        }
        guard !result.isEmpty else { throw ValidationError("--format: expected at least one of onnx, gguf, safetensors") }
        return result
    }

    static func bytes(_ text: String) -> Int? {
        let units: [(String, Int)] = [("GB", 1_000_000_000), ("MB", 1_000_000), ("KB", 1_000), ("B", 1)]
        let upper = text.uppercased().trimmingCharacters(in: .whitespaces)
        for (suffix, scale) in units where upper.hasSuffix(suffix) {
            guard let n = Double(upper.dropLast(suffix.count)), n > 0 else { return nil }
            return Int(n * Double(scale))
        }
        return Int(upper).flatMap { $0 > 0 ? $0 : nil }
    }

    func parsedGGUFType() throws -> GGMLType? {
        guard let ggufType else { return nil }
        switch ggufType.lowercased() {
        case "f32": return .f32
        case "f16": return .f16
        case "q8_0": return .q8_0
        default: throw ValidationError("--gguf-type: expected f32, f16 or q8_0, found '\(ggufType)'")
        }
    }

    func validate() throws {
        _ = try parsedFormats()
        _ = try parsedGGUFType()
        guard Self.bytes(maxShardSize) != nil else {
            throw ValidationError("--max-shard-size: expected a positive size such as 5GB, 500MB or 1000000, found '\(maxShardSize)'")
        }
    }

    func run() throws {
        var request = Exporter.Request(
            workspace: Workspace(root: URL(fileURLWithPath: workspace)), checkpoint: checkpoint,
            out: out.map { URL(fileURLWithPath: $0) }, formats: try parsedFormats(), replace: replace,
            maxShardBytes: Self.bytes(maxShardSize)!)
        request.ggufType = try parsedGGUFType()
        print(try Exporter.run(request).lines.joined(separator: "\n"))
    }
}

/// Hidden: our forward's logits for the weights `export` would write, as JSON, for
/// tools/check_export_interop.py to compare onnxruntime and transformers against.
struct ExportLogitsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-logits",
        abstract: "Print the logits of the checkpoint `export` writes, as JSON (for tools/check_export_interop.py).",
        shouldDisplay: false
    )

    @Option(help: "Workspace folder.")
    var workspace = Workspace.defaultFolderName

    @Option(help: "Checkpoint, as for export (default: the one export would take).")
    var checkpoint: String?

    @Option(help: "Token id sequences: ids separated by commas, sequences by semicolons, e.g. 1,5,9;3,4.")
    var tokens: String

    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        runtime.apply()
        var sequences: [[Int]] = []
        for part in tokens.split(separator: ";") {
            let ids = part.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !ids.isEmpty, ids.allSatisfy({ $0 != nil }) else {
                throw ValidationError("--tokens: expected comma-separated integers per sequence, found '\(part)'")
            }
            sequences.append(ids.map { $0! })
        }
        let source = try ExportSource.load(workspace: Workspace(root: URL(fileURLWithPath: workspace)), checkpoint: checkpoint)
        let logits = try ExportLogits.compute(source, sequences: sequences)
        struct Output: Encodable { var weights: String; var logits: [[[Float]]] }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        FileHandle.standardOutput.write(try encoder.encode(Output(weights: source.description, logits: logits)))
        print("")
    }
}
