import ArgumentParser
import Foundation
import Tokenization
import Transformer

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import a model (.onnx from any torch/optimum exporter, .safetensors, or a Hugging Face folder) into the workspace.",
        discussion: """
        Writes WORKSPACE/base/: model.safetensors (fp32, Hugging Face names), config.json (given, \
        found beside the model, or inferred from the ONNX graph), tokenizer.json and import-map.json \
        (which ONNX initializer holds each parameter, so export can write into the original graph).
        """
    )

    @Argument(help: "A .onnx file, a .safetensors file, or a Hugging Face model folder.")
    var path: String

    @Option(help: "tokenizer.json to copy (default: the one beside the model).")
    var tokenizer: String?

    @Option(help: "config.json to use (default: the one beside the model; inferred from an ONNX graph when there is none).")
    var config: String?

    @Option(help: "Workspace folder.")
    var workspace = Workspace.defaultFolderName

    @Flag(help: "Replace a model already imported into the workspace.")
    var replace = false

    func run() throws {
        let request = Importer.Request(
            source: URL(fileURLWithPath: path), tokenizer: tokenizer.map { URL(fileURLWithPath: $0) },
            config: config.map { URL(fileURLWithPath: $0) }, workspace: Workspace(root: URL(fileURLWithPath: workspace)),
            replace: replace)
        let summary = try Importer.run(request) { try Tokenizer(contentsOf: $0).vocabularySize }
        print(summary.lines.joined(separator: "\n"))
    }
}
