import Transformer
import Foundation

/// `EXPORT.md`: where an export came from, short enough to read and precise enough to check —
/// the source model and its SHA-256, the run and checkpoint (or the untrained import), the date,
/// the training config digest, and every file written with its size and SHA-256.
enum ExportProvenance {
    static func markdown(_ source: ExportSource, date: Date, onnx: ONNXWriteBack?, files: [ExportFiles.Written]) -> String {
        let map = source.map
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        var weights: String
        switch source.origin {
        case .checkpoint(let ref):
            weights = "run `\(ref.run)`, checkpoint step \(ref.step) (`\(ref.weights.path)`)"
        case .base:
            weights = "none: the untrained import (`\(source.workspace.baseWeights.path)`); no run has saved a checkpoint"
        }
        var lines = [
            "# Export provenance",
            "",
            "| | |",
            "|---|---|",
            "| source model | `\(map.source.path)` (\(map.source.format), \(map.source.bytes) bytes) |",
            "| source SHA-256 | `\(map.source.sha256.isEmpty ? "none" : map.source.sha256)` |",
            "| family | \(map.family.rawValue) |",
            "| weights | \(weights) |",
            "| training config digest | \(source.configDigest.map { "`\($0)`" } ?? "none") |",
            "| date | \(formatter.string(from: date)) |",
            "| workspace | `\(source.workspace.root.path)` |",
            "",
            "## Files",
            "",
            "| file | bytes | SHA-256 |",
            "|---|---|---|",
        ]
        lines += files.map { "| `\($0.path)` | \($0.bytes) | `\($0.sha256)` |" }
        if let onnx {
            lines += ["", "## ONNX write-back", "",
                      "\(onnx.tensorsWritten) initializers rewritten in their original element type, layout and storage; everything else in the graph is as imported."]
            for split in onnx.splits {
                lines.append("- split: \(split.parameters.map { "`\($0)`" }.joined(separator: ", ")) moved from shared initializer `\(split.from)` to new initializer `\(split.tensor)` (training made them differ); rewired \(split.rewired.joined(separator: ", "))")
            }
            if onnx.movedToExternal > 0 {
                lines.append("- \(onnx.movedToExternal) inline initializers moved to external data to keep the protobuf under 2 GB")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
