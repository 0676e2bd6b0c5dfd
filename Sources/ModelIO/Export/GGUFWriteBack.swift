import Transformer
import Foundation
import ModelFiles

/// The weights written back into the GGUF they were imported from (checked by SHA-256): same
/// metadata and tensor order. By default each tensor keeps its source type: a tensor whose
/// values did not change keeps its source bytes (so an untrained export is the source file byte
/// for byte), a changed one is re-quantised by llama.cpp's reference algorithm for its type
/// (`GGUFQuantize`, the K-quants Q4_K/Q5_K/Q6_K included; another type is refused, naming the
/// tensor, with --gguf-type as the way out);
/// sizes per type are fixed, so every offset stays. With a `target` type every 2-D tensor is
/// written in that type (1-D tensors, norms and biases, stay F32 as llama.cpp's converter keeps
/// them) and `general.file_type` is updated.
enum GGUFWriteBack {
    /// `general.file_type` (llama_ftype) of an all-`type` file.
    static func fileType(_ type: GGMLType) -> UInt32 {
        switch type {
        case .f16: return 1
        case .q8_0: return 7
        case .bf16: return 32
        default: return 0
        }
    }

    static func bytes(_ source: ExportSource, target: GGMLType?) throws -> (data: Data, rewritten: Int) {
        let url = URL(fileURLWithPath: source.map.source.path)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ExportError(.source, file: url.path, "expected the GGUF file the model was imported from, found nothing at this path (moved or deleted?); it is needed to write the weights back")
        }
        let (hash, size) = try SHA256.hex(file: url)
        guard hash == source.map.source.sha256 else {
            throw ExportError(.source, file: url.path, subject: "SHA-256",
                              "expected \(source.map.source.sha256) (\(source.map.source.bytes) bytes, recorded at import), found \(hash) (\(size) bytes): the file changed since the import; re-import it")
        }
        let gguf: GGUFFile
        do { gguf = try GGUFFile(contentsOf: url) } catch { throw ExportError(.source, file: url.path, "\(PlainErrorText.describe(error))") }
        // GGUF tensor name -> parameter it stores.
        var parameterOf: [String: String] = [:]
        for entry in source.map.entries {
            for stored in [entry.source] + entry.duplicates { parameterOf[stored.name] = entry.parameter }
        }
        let config = source.config
        var rewritten = 0
        var tensors: [GGUFWriter.Tensor] = []
        for info in gguf.tensors {
            guard let parameter = parameterOf[info.name], let (_, layout) = GGUFNames.huggingFace(info.name, family: config.family),
                  let spec = source.parameters.entry(parameter)?.spec else {
                throw ExportError(.importMap, file: source.workspace.baseImportMap.path, subject: "tensor '\(info.name)'",
                                  "expected the import map to name the parameter this GGUF tensor holds, found none")
            }
            let heads = GGUFNames.permutationHeads(parameter, config: config)
            let hf = [Float](UnsafeBufferPointer(start: source.parameters[parameter], count: spec.count))
            let values = GGUFNames.fromHuggingFace(hf, hfShape: spec.shape, layout: layout, heads: heads)
            let type = target.map { info.dims.count == 1 && $0 != .f32 ? GGMLType.f32 : $0 } ?? info.type
            let original = gguf.bytes(info)
            if type == info.type {
                // Unchanged weights keep their source bytes (no second rounding of a quantised tensor).
                let stored = try gguf.floats(info)
                if stored.count == values.count, zip(stored, values).allSatisfy({ $0.bitPattern == $1.bitPattern }) {
                    tensors.append(GGUFWriter.Tensor(name: info.name, dims: info.dims, type: type, bytes: original))
                    continue
                }
            }
            guard GGUFQuantize.quantizable.contains(type) else {
                throw ExportError(.unsupported, file: url.path, subject: "tensor '\(info.name)'",
                                  "expected a type that can be re-quantised (\(GGUFQuantize.quantizable.map(\.description).joined(separator: ", "))) for trained weights, found \(type); export every tensor as q8_0, f16 or f32 instead", setting: .ggufType)
            }
            let bytes = try values.withUnsafeBufferPointer { try GGUFQuantize.bytes($0, as: type) }
            rewritten += 1
            tensors.append(GGUFWriter.Tensor(name: info.name, dims: info.dims, type: type, bytes: Data(bytes)))
        }
        if target == nil {
            // Same types, same sizes, same offsets: the source file with the changed tensors' bytes replaced.
            var data = Data(gguf.data)
            for (info, tensor) in zip(gguf.tensors, tensors) {
                let start = gguf.dataStart + info.offset
                data.replaceSubrange(start..<(start + info.byteCount), with: tensor.bytes)
            }
            return (data, rewritten)
        }
        var metadata = gguf.metadata
        if let i = metadata.firstIndex(where: { $0.key == "general.file_type" }) {
            metadata[i].value = .uint32(fileType(target!))
        }
        let data = try GGUFWriter.encode(version: gguf.version, metadata: metadata, tensors: tensors)
        return (data, rewritten)
    }
}
