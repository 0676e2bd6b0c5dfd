import Transformer
import ModelFiles

/// The PyTorch module a graph node was exported from (`model.layers.0.self_attn.q_proj`), read
/// from the clues exporters leave:
/// - torch legacy exporter and optimum: the node name, `/model/layers.0/self_attn/q_proj/MatMul`
///   (module path components, then the op's own name);
/// - torch dynamo exporter: node metadata `pkg.torch.onnx.name_scopes`, a Python list literal
///   `['', 'model', 'model.layers.0', ..., 'model.layers.0.self_attn.q_proj', 'linear']` whose
///   last entry names the op (entries may also be relative: `'q_proj'`).
enum ModulePath {
    static let nameScopesKey = "pkg.torch.onnx.name_scopes"

    struct Clue: Equatable {
        var path: String
        /// "node name" or "node metadata name_scopes", for messages.
        var source: String
    }

    static func of(_ node: ONNXNode) -> Clue? {
        if let scopes = node.metadata[nameScopesKey], let entries = pythonStringList(scopes), entries.count >= 2 {
            var path = ""
            for entry in entries.dropLast() where !entry.isEmpty {
                // Full dotted paths extend the previous one; relative names are appended.
                if path.isEmpty || entry.hasPrefix(path + ".") { path = entry } else { path += "." + entry }
            }
            if !path.isEmpty { return Clue(path: path, source: "metadata \(nameScopesKey) of node '\(node.name)'") }
        }
        let name = node.name
        if name.hasPrefix("/") {
            let parts = name.split(separator: "/", omittingEmptySubsequences: true)
            if parts.count >= 2 {
                return Clue(path: parts.dropLast().joined(separator: "."), source: "name of node '\(name)'")
            }
        }
        return nil
    }

    /// `name` and, when a wrapper module prefixed it (`m.model.layers.0...` from exporting a
    /// `forward` wrapper around the HF model), the suffixes starting at a family root.
    static func unwrapped(_ name: String) -> [String] {
        var result = [name]
        var rest = Substring(name)
        while let dot = rest.firstIndex(of: ".") {
            rest = rest[rest.index(after: dot)...]
            if ["model.", "transformer.", "lm_head."].contains(where: rest.hasPrefix) { result.append(String(rest)) }
        }
        return result
    }

    /// `['', 'a', "b"]` -> ["", "a", "b"]; nil when the text is not such a list.
    static func pythonStringList(_ text: String) -> [String]? {
        let chars = Array(text.unicodeScalars)
        var i = 0
        func skipSpace() { while i < chars.count, chars[i] == " " { i += 1 } }
        skipSpace()
        guard i < chars.count, chars[i] == "[" else { return nil }
        i += 1
        var result: [String] = []
        while true {
            skipSpace()
            guard i < chars.count else { return nil }
            if chars[i] == "]" { return result }
            let quote = chars[i]
            guard quote == "'" || quote == "\"" else { return nil }
            i += 1
            var item = String.UnicodeScalarView()
            while i < chars.count, chars[i] != quote {
                if chars[i] == "\\", i + 1 < chars.count { i += 1 }
                item.append(chars[i])
                i += 1
            }
            guard i < chars.count else { return nil }
            i += 1
            result.append(String(item))
            skipSpace()
            guard i < chars.count else { return nil }
            if chars[i] == "," { i += 1 } else if chars[i] != "]" { return nil }
        }
    }
}
