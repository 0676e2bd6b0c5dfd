import Transformer
import ModelFiles

/// Where an initializer's value is consumed, after looking through the nodes that only rename or
/// re-lay it: `Identity` (whose output names are alias clues), `Transpose` of a 2-D tensor and
/// `Cast`.
struct InitializerUse {
    /// Index into `GraphIndex.nodes` of the consuming node.
    var node: Int
    var input: Int
    /// 2-D transpositions on the way (the stored tensor reaches the consumer transposed when odd).
    var transposes: Int
    /// Op types passed through, e.g. ["Identity", "Transpose"], for messages.
    var via: [String]
}

/// The graph as lookups: initializers by name, consumers of each value, constants (initializers
/// and `Constant` nodes), and the uses of each initializer.
struct GraphIndex {
    let model: ONNXModel
    let nodes: [ONNXNode]
    let initializers: [ONNXTensor]
    let initializerIndex: [String: Int]
    /// value name -> (node index, input index) of every consumer.
    let consumers: [String: [(node: Int, input: Int)]]
    /// value name -> index of the node producing it.
    let producers: [String: Int]

    init(_ model: ONNXModel) throws {
        self.model = model
        nodes = model.nodes
        initializers = model.initializers
        var index: [String: Int] = [:]
        for (i, t) in initializers.enumerated() {
            guard index[t.name] == nil else {
                throw ImportError(.ambiguous, file: model.file, subject: "tensor '\(t.name)'",
                                  "expected unique initializer names, found the name twice")
            }
            index[t.name] = i
        }
        initializerIndex = index
        var consumers: [String: [(node: Int, input: Int)]] = [:]
        var producers: [String: Int] = [:]
        for (n, node) in nodes.enumerated() {
            for (k, input) in node.inputs.enumerated() where !input.isEmpty {
                consumers[input, default: []].append((n, k))
            }
            for output in node.outputs where !output.isEmpty { producers[output] = n }
        }
        self.consumers = consumers
        self.producers = producers
    }

    var file: String { model.file }

    /// Every consumer of `name`, following Identity / 2-D Transpose / Cast; `aliases` collects
    /// the output names of the Identity nodes passed (exporters name them after the parameter
    /// they stand for when they merged equal tensors).
    func uses(of name: String) -> (uses: [InitializerUse], aliases: [String]) {
        var uses: [InitializerUse] = []
        var aliases: [String] = []
        var stack: [(value: String, transposes: Int, via: [String])] = [(name, 0, [])]
        var seen: Set<String> = [name]
        while let (value, transposes, via) = stack.popLast() {
            for (n, k) in consumers[value] ?? [] {
                let node = nodes[n]
                let passThrough: Int?
                switch node.opType {
                case "Identity": passThrough = 0
                case "Cast": passThrough = 0
                case "Transpose": passThrough = isPlainTranspose(node) ? 1 : nil
                default: passThrough = nil
                }
                if let flip = passThrough, let output = node.outputs.first, !output.isEmpty {
                    if node.opType == "Identity" { aliases.append(output) }
                    if seen.insert(output).inserted {
                        stack.append((output, transposes + flip, via + [node.opType]))
                    }
                } else {
                    uses.append(InitializerUse(node: n, input: k, transposes: transposes, via: via))
                }
            }
        }
        return (uses, aliases)
    }

    /// A Transpose that swaps the two axes of a matrix (perm [1, 0] or no perm on 2-D input).
    private func isPlainTranspose(_ node: ONNXNode) -> Bool {
        guard let perm = try? node.ints("perm") else { return true }
        return perm == [1, 0]
    }

    /// The constant value of `name`: an initializer or the output of a `Constant` node.
    func constant(_ name: String) -> ONNXTensor? {
        if let i = initializerIndex[name] { return initializers[i] }
        if let p = producers[name], nodes[p].opType == "Constant" { return try? nodes[p].constantValue() }
        return nil
    }

    /// Int64 values of a small constant (shape vectors and the like), nil otherwise.
    func smallInts(_ name: String) -> [Int64]? {
        guard let t = constant(name), t.dims.count <= 1, (t.dims.first ?? 1) <= 16 else { return nil }
        return try? t.int64s()
    }

    /// Float values of a small constant (scalars such as a norm's epsilon, inv_freq vectors).
    func smallFloats(_ name: String, limit: Int = 4096) -> [Float]? {
        guard let t = constant(name), t.dims.count <= 1, (t.dims.first ?? 1) <= Int64(limit) else { return nil }
        return try? t.floats()
    }
}
