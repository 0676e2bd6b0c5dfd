import Foundation

/// Sharded checkpoints as Hugging Face writes them: `model-00001-of-00003.safetensors`, ... plus
/// `model.safetensors.index.json` = {"metadata": {"total_size": bytes}, "weight_map": {tensor: file}}.
public enum SafeTensorsShards {
    public static let indexFileName = "model.safetensors.index.json"
    public static let singleFileName = "model.safetensors"

    public static func shardName(_ index: Int, of count: Int) -> String {
        func five(_ n: Int) -> String { String(repeating: "0", count: max(0, 5 - String(n).count)) + String(n) }
        return "model-\(five(index))-of-\(five(count)).safetensors"
    }

    /// Greedy split in the given order: a shard is closed when the next tensor would take it past
    /// `maxShardBytes` (a single larger tensor gets a shard of its own), as transformers does.
    public static func split(_ entries: [SafeTensorsWriter.Entry], maxShardBytes: Int) -> [[SafeTensorsWriter.Entry]] {
        var shards: [[SafeTensorsWriter.Entry]] = []
        var current: [SafeTensorsWriter.Entry] = []
        var size = 0
        for entry in entries {
            if !current.isEmpty, size + entry.data.count > maxShardBytes {
                shards.append(current)
                current = []
                size = 0
            }
            current.append(entry)
            size += entry.data.count
        }
        if !current.isEmpty || shards.isEmpty { shards.append(current) }
        return shards
    }

    /// Writes `entries` into `directory`. Without `maxShardBytes`, or when everything fits in one
    /// shard, writes a single `model.safetensors` (no index), as transformers does. Returns the
    /// file names written.
    @discardableResult
    public static func write(_ entries: [SafeTensorsWriter.Entry], to directory: URL, maxShardBytes: Int? = nil,
                             metadata: [String: String] = SafeTensorsWriter.defaultMetadata) throws -> [String] {
        let shards = maxShardBytes.map { split(entries, maxShardBytes: max(1, $0)) } ?? [entries]
        if shards.count == 1 {
            try SafeTensorsWriter.write(entries, to: directory.appendingPathComponent(singleFileName), metadata: metadata)
            return [singleFileName]
        }
        var names: [String] = []
        var weightMap: [String: String] = [:]
        var totalSize = 0
        for (i, shard) in shards.enumerated() {
            let name = shardName(i + 1, of: shards.count)
            try SafeTensorsWriter.write(shard, to: directory.appendingPathComponent(name), metadata: metadata)
            for entry in shard {
                weightMap[entry.name] = name
                totalSize += entry.data.count
            }
            names.append(name)
        }
        try AtomicFile.write(indexJSON(totalSize: totalSize, weightMap: weightMap),
                             to: directory.appendingPathComponent(indexFileName))
        return names + [indexFileName]
    }

    /// Same text as `json.dumps(index, indent=2, sort_keys=True) + "\n"` in transformers.
    public static func indexJSON(totalSize: Int, weightMap: [String: String]) -> Data {
        var text = "{\n  \"metadata\": {\n    \"total_size\": \(totalSize)\n  },\n  \"weight_map\": {\n"
        let lines = weightMap.keys.sorted().map {
            "    \(SafeTensorsWriter.jsonString($0)): \(SafeTensorsWriter.jsonString(weightMap[$0]!))"
        }
        text += lines.joined(separator: ",\n") + "\n  }\n}\n"
        return Data(text.utf8)
    }

    /// Opens a checkpoint folder: the shards named by `model.safetensors.index.json`, or a single
    /// `model.safetensors`. Returns the files and which file holds each tensor.
    public static func open(directory: URL) throws -> (files: [String: SafeTensorsFile], weightMap: [String: String]) {
        let indexURL = directory.appendingPathComponent(indexFileName)
        if !FileManager.default.fileExists(atPath: indexURL.path) {
            let file = try SafeTensorsFile(contentsOf: directory.appendingPathComponent(singleFileName))
            return ([singleFileName: file], Dictionary(uniqueKeysWithValues: file.names.map { ($0, singleFileName) }))
        }
        let data = try mapFile(indexURL, what: "safetensors index")
        let root: JSONValue
        do {
            root = try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw ModelFileError(.malformed, file: indexFileName, "expected JSON, found: \(PlainErrorText.describe(error))")
        }
        guard let map = root.objectValue?["weight_map"]?.objectValue else {
            throw ModelFileError(.malformed, file: indexFileName, subject: "field 'weight_map'",
                                 "expected an object of tensor name to file name")
        }
        var weightMap: [String: String] = [:]
        var files: [String: SafeTensorsFile] = [:]
        for (tensor, value) in map {
            guard let name = value.stringValue, !name.contains("/"), name != "..", !name.isEmpty else {
                throw ModelFileError(.malformed, file: indexFileName, subject: "field 'weight_map.\(tensor)'",
                                     "expected a file name in the same folder, found \(value)")
            }
            if files[name] == nil {
                files[name] = try SafeTensorsFile(contentsOf: directory.appendingPathComponent(name))
            }
            _ = try files[name]!.entry(tensor)  // throws .missing naming the shard and tensor
            weightMap[tensor] = name
        }
        return (files, weightMap)
    }
}
