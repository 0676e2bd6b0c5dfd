import Transformer
import Foundation
import ModelFiles

/// The Hugging Face model folder of an export: what `transformers`' `from_pretrained` reads.
///
///     model.safetensors                F32, canonical names, in parameter (state-dict) order;
///     (model-0000k-of-0000n.safetensors + model.safetensors.index.json above the shard size)
///     config.json                      the imported config, dtype set to float32
///     generation_config.json           the imported model's (in base/ or beside the source), else
///                                      bos / eos / pad token ids from the config
///     tokenizer.json                   copied from base/ when the import had one
///     tokenizer_config.json            copied, or a minimal PreTrainedTokenizerFast one
///
/// Weights are written in Float32, the precision the trainer keeps: nothing of the training is
/// rounded away, whatever the source's element type was (the ONNX export keeps that type).
enum HFFolderExport {
    static func write(_ source: ExportSource, folder: String, maxShardBytes: Int, files: ExportFiles) throws {
        let p = source.parameters
        let entries = try p.entries.map { e in
            try SafeTensorsWriter.Entry(name: e.spec.name, dtype: .f32, shape: e.spec.shape,
                                        data: Data(bytesNoCopy: p.base + e.offset, count: e.spec.count * 4, deallocator: .none))
        }
        let shards = SafeTensorsShards.split(entries, maxShardBytes: max(1, maxShardBytes))
        if shards.count == 1 {
            try files.write("\(folder)/\(SafeTensorsShards.singleFileName)") { w in
                try SafeTensorsWriter.stream(entries, into: { try w.write($0) })
            }
        } else {
            var weightMap: [String: String] = [:]
            var total = 0
            for (i, shard) in shards.enumerated() {
                let name = SafeTensorsShards.shardName(i + 1, of: shards.count)
                try files.write("\(folder)/\(name)") { w in
                    try SafeTensorsWriter.stream(shard, into: { try w.write($0) })
                }
                for e in shard {
                    weightMap[e.name] = name
                    total += e.data.count
                }
            }
            try files.write("\(folder)/\(SafeTensorsShards.indexFileName)",
                            data: SafeTensorsShards.indexJSON(totalSize: total, weightMap: weightMap))
        }

        let base = source.workspace
        var hf: HFConfig
        do { hf = try HFConfig(contentsOf: base.baseConfig) } catch {
            throw ExportError(.workspace, file: base.baseConfig.path, "cannot read the imported config: \(PlainErrorText.describe(error))")
        }
        hf.dtype = "float32"
        try files.write("\(folder)/config.json", data: try hf.encoded())
        try files.write("\(folder)/generation_config.json", data: try existingGenerationConfig(source) ?? generationConfig(hf))

        if FileManager.default.fileExists(atPath: base.baseTokenizer.path) {
            let tokenizer = try read(base.baseTokenizer)
            try files.write("\(folder)/tokenizer.json", data: tokenizer)
            let config = base.base.appendingPathComponent("tokenizer_config.json")
            let tokenizerConfig = FileManager.default.fileExists(atPath: config.path)
                ? try read(config) : try minimalTokenizerConfig(tokenizer: tokenizer, hf: hf, maxPositions: source.config.maxPositions)
            try files.write("\(folder)/tokenizer_config.json", data: tokenizerConfig)
        }
    }

    private static func read(_ url: URL) throws -> Data {
        do { return try Data(contentsOf: url) } catch {
            throw ExportError(.workspace, file: url.path, "cannot read: \(PlainErrorText.describe(error))")
        }
    }

    private static func json(_ object: [String: JSONValue]) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(JSONValue.object(object)) + Data("\n".utf8)
    }

    /// The generation settings that came with the model: base/generation_config.json, else the
    /// one beside the imported source (file or folder); nil when there is none.
    static func existingGenerationConfig(_ source: ExportSource) throws -> Data? {
        let name = "generation_config.json"
        let imported = URL(fileURLWithPath: source.map.source.path)
        var isDirectory: ObjCBool = false
        let folder = FileManager.default.fileExists(atPath: imported.path, isDirectory: &isDirectory) && isDirectory.boolValue
            ? imported : imported.deletingLastPathComponent()
        for url in [source.workspace.base.appendingPathComponent(name), folder.appendingPathComponent(name)]
        where FileManager.default.fileExists(atPath: url.path) {
            let data = try read(url)
            guard (try? JSONDecoder().decode(JSONValue.self, from: data))?.objectValue != nil else {
                throw ExportError(.workspace, file: url.path, "expected a JSON object (generation settings), found something else")
            }
            return data
        }
        return nil
    }

    /// What `GenerationConfig.from_model_config` keeps of a config: the special token ids.
    static func generationConfig(_ hf: HFConfig) throws -> Data {
        var object: [String: JSONValue] = ["_from_model_config": .bool(true)]
        if let bos = hf.bosTokenId { object["bos_token_id"] = .int(Int64(bos)) }
        if let eos = hf.eosTokenIds {
            object["eos_token_id"] = eos.count == 1 ? .int(Int64(eos[0])) : .array(eos.map { .int(Int64($0)) })
        }
        if let pad = hf.padTokenId { object["pad_token_id"] = .int(Int64(pad)) }
        return try json(object)
    }

    /// A tokenizer config for a workspace that has only tokenizer.json: the fast tokenizer class,
    /// the context length, and the bos / eos tokens when tokenizer.json's added tokens hold the
    /// config's ids.
    static func minimalTokenizerConfig(tokenizer: Data, hf: HFConfig, maxPositions: Int) throws -> Data {
        var object: [String: JSONValue] = [
            "tokenizer_class": .string("PreTrainedTokenizerFast"),
            "model_max_length": .int(Int64(maxPositions)),
            "clean_up_tokenization_spaces": .bool(false),
        ]
        var added: [Int64: String] = [:]
        if let root = try? JSONDecoder().decode(JSONValue.self, from: tokenizer).objectValue,
           let tokens = root["added_tokens"]?.arrayValue {
            for token in tokens {
                if let o = token.objectValue, let id = o["id"]?.intValue, let content = o["content"]?.stringValue { added[id] = content }
            }
        }
        if let bos = hf.bosTokenId, let text = added[Int64(bos)] { object["bos_token"] = .string(text) }
        if let eos = hf.eosTokenIds?.first, let text = added[Int64(eos)] { object["eos_token"] = .string(text) }
        if let pad = hf.padTokenId, let text = added[Int64(pad)] { object["pad_token"] = .string(text) }
        return try json(object)
    }
}
