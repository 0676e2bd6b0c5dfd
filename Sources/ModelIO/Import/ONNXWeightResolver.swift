import Transformer
import ModelFiles

/// Resolves every parameter of `config.parameterSpecs` to an initializer of an ONNX graph from
/// the clues real exporters leave (see docs/architecture.md "Data flow"): the initializer's own name, the
/// names of `Identity` outputs it feeds (merged equal tensors), and the module path of the nodes
/// consuming it (node name or dynamo name-scope metadata) combined with the op and input slot
/// (MatMul/Gemm/Gather -> `.weight`, Add / Gemm C -> `.bias`, Mul / LayerNormalization ->
/// `.weight`/`.bias`), looking through `Transpose` nodes to learn the stored orientation.
///
/// Shapes are checked after transposition; anything missing, mis-shaped, doubly claimed with
/// different values, or weight-like and unclaimed is refused with the parameter and clue named.
struct ONNXWeightResolver {
    struct Candidate {
        var tensor: Int
        var transposed: Bool
        var clues: [String]
        /// Claimed by name (initializer or Identity output), not only by a module path.
        var named: Bool
    }

    struct Resolved {
        var spec: ParameterSpec
        var primary: Candidate
        /// Further tensors claiming the parameter; the loader checks they hold the same values.
        var duplicates: [Candidate]
    }

    let graph: GraphIndex
    let config: ModelConfig

    private var file: String { graph.file }

    /// A clue of one tensor towards one parameter, before merging.
    private struct Claim {
        var parameter: String
        var storedLayout: WeightLayout?
        var clue: String
        var named: Bool
    }

    func resolve() throws -> [Resolved] {
        let specs = config.parameterSpecs
        let specByName = Dictionary(uniqueKeysWithValues: specs.map { ($0.name, $0) })
        func canonical(_ name: String) -> String? {
            for name in ModulePath.unwrapped(name) {
                if specByName[name] != nil { return name }
                if config.tiedEmbeddings, name == config.tiedHeadName { return config.embeddingName }
            }
            return nil
        }

        var candidates: [String: [Candidate]] = [:]
        var rejected: [String: [String]] = [:]
        var claimedTensors: Set<Int> = []
        var constantLike: Set<Int> = []

        for (index, tensor) in graph.initializers.enumerated() {
            guard WeightReader.floatType(tensor) != nil, let (dims, count) = try? tensor.shape(), count >= 2 else { continue }
            let (uses, aliases) = graph.uses(of: tensor.name)
            if isConstantLike(tensor.name, uses: uses) { constantLike.insert(index) }

            // Storage layout as the matrix consumers see it (first informative use).
            var consumerLayout: WeightLayout? = nil
            var claims: [Claim] = []
            for use in uses {
                let node = graph.nodes[use.node]
                guard let role = WeightRole.of(node, input: use.input) else { continue }
                let stored = role.layout.map { use.transposes % 2 == 1 ? $0.flipped : $0 }
                if consumerLayout == nil { consumerLayout = stored }
                guard let module = ModulePath.of(node), let parameter = canonical(module.path + "." + role.suffix) else { continue }
                let via = use.via.isEmpty ? "" : use.via.joined(separator: "->") + "->"
                claims.append(Claim(parameter: parameter, storedLayout: stored,
                                    clue: "\(via)\(node.opType)[in\(use.input)] module path '\(module.path)' from \(module.source)",
                                    named: false))
            }
            for name in [tensor.name] + aliases {
                guard let parameter = canonical(name) else { continue }
                claims.append(Claim(parameter: parameter, storedLayout: consumerLayout,
                                    clue: name == tensor.name ? "initializer name" : "Identity output '\(name)'", named: true))
            }

            // Merge the claims per parameter.
            var order: [String] = []
            var merged: [String: [Claim]] = [:]
            for claim in claims {
                if merged[claim.parameter] == nil { order.append(claim.parameter) }
                merged[claim.parameter, default: []].append(claim)
            }
            for parameter in order {
                let group = merged[parameter]!
                let spec = specByName[parameter]!
                let clues = group.map(\.clue)
                let named = group.contains { $0.named }
                var transposed = false
                if dims.count == 2, spec.shape.count == 2 {
                    let hf = config.hfLayout(of: parameter)
                    let layouts = Set(group.compactMap { $0.storedLayout.map { $0 == .inFirst ? 1 : 0 } })
                    if layouts.count > 1 {
                        throw ImportError(.ambiguous, file: file, subject: "parameter '\(parameter)'",
                                          "tensor '\(tensor.name)' is consumed both as [out, in] and as [in, out] (\(clues.joined(separator: "; ")))")
                    }
                    if let layout = layouts.first {
                        transposed = (layout == 1 ? WeightLayout.inFirst : .outFirst) != hf
                    } else {
                        // No consumer tells the orientation: only a non-square shape can.
                        transposed = dims != spec.shape && dims.reversed() == spec.shape
                    }
                }
                let effective = transposed ? Array(dims.reversed()) : dims
                guard effective == spec.shape else {
                    let found = "tensor '\(tensor.name)' \(dims)\(transposed ? " stored transposed, i.e. \(effective)" : "") via \(clues.joined(separator: "; "))"
                    if named {
                        throw ImportError(.misshaped, file: file, subject: "parameter '\(parameter)'",
                                          "expected shape \(spec.shape), found \(found)")
                    }
                    rejected[parameter, default: []].append(found)
                    continue
                }
                candidates[parameter, default: []].append(Candidate(tensor: index, transposed: transposed, clues: clues, named: named))
                claimedTensors.insert(index)
            }
        }

        var resolved: [Resolved] = []
        for spec in specs {
            var found = candidates[spec.name] ?? []
            guard !found.isEmpty else {
                if let bad = rejected[spec.name] {
                    throw ImportError(.misshaped, file: file, subject: "parameter '\(spec.name)'",
                                      "expected shape \(spec.shape), found \(bad.joined(separator: "; and "))")
                }
                throw ImportError(.missing, file: file, subject: "parameter '\(spec.name)'",
                                  "missing: expected an initializer or Identity output named so, or one consumed by a node of module '\(Self.module(of: spec.name))' (node name or dynamo name_scopes metadata), shape \(spec.shape); found none")
            }
            // The tensor stored by name and in HF layout reads most directly; the rest are copies.
            found.sort { a, b in
                if a.named != b.named { return a.named }
                if a.transposed != b.transposed { return !a.transposed }
                return a.tensor < b.tensor
            }
            resolved.append(Resolved(spec: spec, primary: found[0], duplicates: Array(found.dropFirst())))
        }

        // Anything weight-like that no parameter took.
        for (index, tensor) in graph.initializers.enumerated() where !claimedTensors.contains(index) && !constantLike.contains(index) {
            guard WeightReader.floatType(tensor) != nil, (1...2).contains(tensor.dims.count),
                  let (_, count) = try? tensor.shape(), count >= 2 else { continue }
            let uses = graph.uses(of: tensor.name).uses.map { use -> String in
                let node = graph.nodes[use.node]
                return "\(node.opType)[in\(use.input)] '\(node.name)'"
            }
            throw ImportError(.extra, file: file, subject: "tensor '\(tensor.name)'",
                              "expected every weight-like initializer to map to a parameter of the \(config.family.rawValue) model, found \(tensor.dataType) \(tensor.dims) mapping to none (consumed by \(uses.isEmpty ? "no node" : uses.joined(separator: ", ")))")
        }
        return resolved
    }

    /// Genuine constants that may be float vectors or matrices: rotary inv_freq / cos / sin
    /// caches, masks, and the buffers the family's checkpoints carry but the runtime recomputes.
    private func isConstantLike(_ name: String, uses: [InitializerUse]) -> Bool {
        let lower = name.lowercased()
        if config.isIgnoredCheckpointName(name) { return true }
        if ["inv_freq", "rotary", "cos_cache", "sin_cache", "cos_cached", "sin_cached", "mask"].contains(where: lower.contains) {
            return true
        }
        let shapeOps: Set<String> = ["Reshape", "Expand", "Range", "ConstantOfShape", "Tile", "Slice", "Where", "Cos", "Sin"]
        return !uses.isEmpty && uses.allSatisfy { use in
            let node = graph.nodes[use.node]
            return shapeOps.contains(node.opType) || (ModulePath.of(node)?.path.contains("rotary") ?? false)
        }
    }

    /// "model.layers.0.self_attn.q_proj.weight" -> "model.layers.0.self_attn.q_proj".
    static func module(of parameter: String) -> String {
        guard let dot = parameter.lastIndex(of: ".") else { return parameter }
        return String(parameter[..<dot])
    }
}
