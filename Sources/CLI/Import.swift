import ArgumentParser
import Foundation
import Tokenization
import ModelIO
import Transformer

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import a model (.onnx from any torch/optimum exporter, .safetensors, .gguf, or a Hugging Face folder) into the workspace.",
        discussion: """
        Writes WORKSPACE/base/: model.safetensors (fp32, Hugging Face names), config.json (given, \
        found beside the model, inferred from the ONNX graph, or made from the GGUF metadata), tokenizer.json \
        (a GGUF's is rebuilt from its tokenizer.ggml.* metadata, with tokenizer_config.json and its chat \
        template) and import-map.json (which ONNX initializer or GGUF tensor holds each parameter, so \
        export can write into the original file). GGUF tensors are dequantised to fp32 (F32, F16, BF16, \
        Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K).
        """
    )

    @Argument(help: "A .onnx file, a .safetensors file, a .gguf file, or a Hugging Face model folder.")
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
