import Transformer
import ModelFiles

/// Which parameters each consumer of an initializer serves, read from the same clues the
/// importer resolves parameters by (docs/architecture.md "Data flow"): the output names of the `Identity`
/// nodes passed on the way (exporters name them after the parameter when they merge equal
/// tensors) and the module path of the consuming node with the op and input slot it uses.
/// `Identity`, `Cast` and 2-D `Transpose` are looked through, as the importer does.
struct ConsumerAttribution {
    /// What one edge (node input) reading the initializer leads to.
    struct Served {
        var parameters: Set<String> = []
        /// Consumers that name no parameter, as "Op 'node name'".
        var unattributed: [String] = []
    }

    let nodes: [ONNXNode]
    private let consumers: [String: [(node: Int, input: Int)]]
    private let specNames: Set<String>
    private let config: ModelConfig

    init(model: ONNXModel, config: ModelConfig) {
        nodes = model.nodes
        var consumers: [String: [(node: Int, input: Int)]] = [:]
        for (n, node) in nodes.enumerated() {
            for (k, input) in node.inputs.enumerated() where !input.isEmpty {
                consumers[input, default: []].append((n, k))
            }
        }
        self.consumers = consumers
        specNames = Set(config.parameterSpecs.map(\.name))
        self.config = config
    }

    /// Every edge reading `value` directly: (node index, input index).
    func edges(of value: String) -> [(node: Int, input: Int)] { consumers[value] ?? [] }

    /// The canonical parameter a value name stands for (wrapper prefixes and the tied head
    /// folded as the importer folds them), or nil.
    func canonical(_ name: String) -> String? {
        for candidate in ModulePath.unwrapped(name) {
            if specNames.contains(candidate) { return candidate }
            if config.tiedEmbeddings, candidate == config.tiedHeadName { return config.embeddingName }
        }
        return nil
    }

    /// What the edge into input `input` of node `node` serves, following pass-through nodes.
    func served(node: Int, input: Int) -> Served {
        var result = Served()
        var seen: Set<String> = []
        var stack: [(node: Int, input: Int)] = [(node, input)]
        while let (n, k) = stack.popLast() {
            let consumer = nodes[n]
            if let output = passThroughOutput(consumer) {
                if consumer.opType == "Identity", let parameter = canonical(output) { result.parameters.insert(parameter) }
                if seen.insert(output).inserted { stack += edges(of: output) }
                continue
            }
            if let role = WeightRole.of(consumer, input: k), let module = ModulePath.of(consumer),
               let parameter = canonical(module.path + "." + role.suffix) {
                result.parameters.insert(parameter)
            } else {
                result.unattributed.append("\(consumer.opType) '\(consumer.name)'")
            }
        }
        return result
    }

    private func passThroughOutput(_ node: ONNXNode) -> String? {
        guard let output = node.outputs.first, !output.isEmpty else { return nil }
        switch node.opType {
        case "Identity", "Cast": return output
        case "Transpose":
            guard let perm = try? node.ints("perm") else { return output }
            return perm == [1, 0] ? output : nil
        default: return nil
        }
    }
}
