import Transformer
import ModelFiles

/// Which consumer edges of a shared initializer move to the new initializer of each split-off
/// group of parameters. Every edge must serve parameters of one group only (the owner's, which
/// stay, or one split-off group's); an edge that serves two groups (a `Transpose` feeding both),
/// a consumer that names no parameter, or a use inside a subgraph cannot be told apart, and the
/// export is refused with the node named rather than writing a graph that computes the wrong
/// thing.
enum SharedInitializerSplit {
    struct Edge: Equatable {
        var node: Int
        var input: Int
    }

    /// `groups[g]` are the parameters that get new initializer g; returns the edges per group.
    static func rewires(tensor: String, owner: [String], groups: [[String]], attribution: ConsumerAttribution,
                        graph: Onnx_GraphProto, file: String) throws -> [[Edge]] {
        let subject = "tensor '\(tensor)'"
        let all = ([owner] + groups).map { $0.joined(separator: ", ") }
        func refuse(_ message: String) -> ExportError {
            ExportError(.split, file: file, subject: subject,
                        "shared by parameters that training made different (\(all.map { "[\($0)]" }.joined(separator: " vs "))); \(message); export cannot split it")
        }
        if let user = subgraphUser(of: tensor, in: graph) {
            throw refuse("it is also read inside the subgraph of node '\(user)'")
        }
        var result = [[Edge]](repeating: [], count: groups.count)
        for edge in attribution.edges(of: tensor) {
            let node = attribution.nodes[edge.node]
            let served = attribution.served(node: edge.node, input: edge.input)
            let where_ = "node '\(node.name)' (\(node.opType)) input \(edge.input)"
            if !served.unattributed.isEmpty {
                throw refuse("\(where_) leads to \(served.unattributed.joined(separator: ", ")), which names no parameter")
            }
            let owners = served.parameters.filter { owner.contains($0) }
            let hits = groups.indices.filter { g in served.parameters.contains { groups[g].contains($0) } }
            let unknown = served.parameters.filter { p in !owner.contains(p) && !groups.contains { $0.contains(p) } }
            guard unknown.isEmpty else {
                throw refuse("\(where_) serves \(unknown.sorted().joined(separator: ", ")), which the import map does not store in this tensor")
            }
            if hits.isEmpty { continue }  // the owner's: stays on the original
            guard hits.count == 1, owners.isEmpty else {
                throw refuse("\(where_) serves \(served.parameters.sorted().joined(separator: " and ")) at once")
            }
            result[hits[0]].append(Edge(node: edge.node, input: edge.input))
        }
        for (g, edges) in result.enumerated() where edges.isEmpty {
            throw refuse("no consumer of it belongs to \(groups[g].joined(separator: ", "))")
        }
        return result
    }

    /// The name of a node whose subgraph (If / Loop / Scan body) reads `name`, or nil.
    static func subgraphUser(of name: String, in graph: Onnx_GraphProto) -> String? {
        func reads(_ g: Onnx_GraphProto) -> Bool {
            g.node.contains { node in
                node.input.contains(name) || node.attribute.contains { a in (a.hasG && reads(a.g)) || a.graphs.contains(where: reads) }
            }
        }
        for node in graph.node {
            for a in node.attribute where (a.hasG && reads(a.g)) || a.graphs.contains(where: reads) { return node.name }
        }
        return nil
    }
}
