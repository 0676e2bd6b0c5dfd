import Transformer
import Foundation
import ModelFiles

/// GGUF sources (llama.cpp, ollama, LM Studio): the config from the metadata (or `--config`),
/// every tensor dequantised to Float32 under its Hugging Face name with llama.cpp's layout
/// changes undone, the tokenizer rebuilt from `tokenizer.ggml.*`. Every tensor in the file must
/// map to a parameter (as llama.cpp's loader checks that every tensor was used).
enum GGUFImport {
    static func load(file url: URL, config configURL: URL?) throws -> Importer.Loaded {
        let path = url.path
        let gguf = try GGUFFile(contentsOf: url)
        let config: ModelConfig, configJSON: Data, configSource: String
        if let given = configURL, let found = try ConfigFile.find(given: given, beside: url) {
            (config, configJSON, configSource) = found
        } else {
            let object = try GGUFConfig.hfObject(gguf, path: path)
            let hf = try HFConfig(data: try JSONEncoder().encode(JSONValue.object(object)), file: path)
            do { config = try ModelConfig(hf: hf, file: path) } catch let error as ModelConfigError {
                throw ImportError(.config, file: path, subject: "field '\(error.field)'", "\(error.message) (made from the GGUF metadata)")
            }
            configJSON = try hf.encoded()
            configSource = "from the GGUF metadata of \(url.lastPathComponent)"
        }
        let tokenizer = try GGUFTokenizer.build(gguf)
        gguf.releaseHeaderPages()  // metadata and tensor infos are parsed; only tensor bytes are read from here on
        if let tokenizer, tokenizer.tokenCount > config.vocabSize {
            throw ImportError(.source, file: path, subject: "field 'tokenizer.ggml.tokens'",
                              "expected at most vocab_size \(config.vocabSize) tokens (the embedding rows), found \(tokenizer.tokenCount)")
        }

        // Hugging Face name -> (GGUF tensor, layout).
        var byName: [String: (info: GGUFFile.TensorInfo, layout: GGUFNames.Layout)] = [:]
        for info in gguf.tensors {
            guard let (hf, layout) = GGUFNames.huggingFace(info.name, family: config.family) else {
                throw ImportError(.extra, file: path, subject: "tensor '\(info.name)'",
                                  "is not a tensor of a \(config.family.rawValue) model (expected llama.cpp names such as blk.0.attn_q.weight)")
            }
            byName[hf] = (info, layout)
        }
        let parameters = Parameters(specs: config.parameterSpecs)
        var types: [String: Int] = [:]
        do {
            // Each tensor is dequantised straight into its parameter (through one temporary of
            // the tensor when its layout changes), dropping its pages of the mapped file as it
            // goes: the peak stays near the Float32 weights, not weights + largest tensor + file.
            try CheckpointLoading.fillInPlace(parameters, config: config, source: path, names: Array(byName.keys)) { name in
                guard let (info, layout) = byName[name] else { return nil }
                let shape = layout == .transposed ? Array(info.shape.reversed()) : info.shape
                return (shape, { destination in
                    types[info.type.description, default: 0] += 1
                    if layout == .same {
                        try gguf.dequantize(info, into: destination.baseAddress!, releasingPages: true)
                        return
                    }
                    let stored = try [Float](unsafeUninitializedCapacity: info.elementCount) { values, initialized in
                        try gguf.dequantize(info, into: values.baseAddress!, releasingPages: true)
                        initialized = info.elementCount
                    }
                    stored.withUnsafeBufferPointer {
                        GGUFNames.toHuggingFace($0, stored: info.shape, layout: layout,
                                                heads: GGUFNames.permutationHeads(name, config: config), into: destination.baseAddress!)
                    }
                })
            }
        } catch let error as LoadError {
            // Name the GGUF tensor too: the user sees llama.cpp names in their tools.
            let gguf = byName[error.parameter].map { " (GGUF tensor '\($0.info.name)')" } ?? ""
            let kind: ImportError.Kind = error.message.contains("missing") ? .missing
                : error.message.contains("unexpected") ? .extra : error.message.contains("shape") ? .misshaped : .inconsistent
            throw ImportError(kind, file: error.source, subject: "parameter '\(error.parameter)'\(gguf)", error.message)
        }

        func stored(_ info: GGUFFile.TensorInfo, layout: GGUFNames.Layout, parameter: String) -> ImportMap.Stored {
            var clues = ["llama.cpp name"]
            if layout == .rotaryPermuted {
                clues.append("rotary permutation undone (\(GGUFNames.permutationHeads(parameter, config: config)) heads)")
            }
            return ImportMap.Stored(name: info.name, shape: info.shape, transposed: layout == .transposed, dtype: info.type.description,
                                    storage: ImportMap.Storage(kind: "gguf", location: nil, offset: gguf.dataStart + info.offset,
                                                               length: info.byteCount),
                                    clues: clues)
        }
        var entries: [ImportMap.Entry] = []
        for spec in config.parameterSpecs {
            let (info, layout) = byName[spec.name]!
            var duplicates: [ImportMap.Stored] = []
            if spec.name == config.embeddingName, config.tiedEmbeddings, let head = byName[config.tiedHeadName] {
                duplicates.append(stored(head.info, layout: head.layout, parameter: config.tiedHeadName))
            }
            entries.append(ImportMap.Entry(parameter: spec.name, shape: spec.shape, source: stored(info, layout: layout, parameter: spec.name),
                                           duplicates: duplicates, sharedWith: []))
        }
        let (hash, bytes) = try SHA256.hex(file: url)
        let map = ImportMap(source: ImportMap.Source(format: "gguf", path: path, sha256: hash, bytes: bytes, files: []),
                            family: config.family, config: configSource, entries: entries)
        var generated: [String: Data] = [:]
        if let tokenizer {
            generated["tokenizer.json"] = tokenizer.tokenizerJSON
            generated["tokenizer_config.json"] = tokenizer.tokenizerConfigJSON
        }
        return Importer.Loaded(config: config, configJSON: configJSON, parameters: parameters, map: map,
                               inferenceNotes: [], sourceDType: Importer.describe(types),
                               generatedTokenizer: generated, tokenizerSummary: tokenizer.map { "\($0.summary) (built from the GGUF metadata)" })
    }
}
