/// Why a node's step stopped. A node that stopped for `stepLength` may have children; the others
/// are leaves (finished answers).
public enum FinishReason: String, Codable, Sendable {
    /// The step ended with the end-of-sequence token: a complete answer.
    case eos
    /// The step reached its length (`L` tokens, or a step boundary); the tree may branch here.
    case stepLength
    /// The node sits at the maximum depth `D` and was cut there (when depth-`D` nodes are not
    /// allowed to run on to EOS).
    case depth
    /// The response token budget ran out.
    case budget
}

/// One step of one sampled answer. The root (index 0, depth 0) holds no step: its context is the
/// prompt. Every other node holds the tokens it added to its parent's text.
public struct RolloutNode: Codable, Equatable, Sendable {
    /// Index of the parent in `RolloutTree.nodes`; `nil` only for the root.
    public var parent: Int?
    /// Indices of the children, in sampling order.
    public var children: [Int] = []
    /// 0 for the root, 1 for the first step.
    public var depth: Int
    /// Token ids of this step, `[stepTokens]`.
    public var tokens: [Int] = []
    /// Log-probability of each token under the policy that sampled it, `[stepTokens]`, same
    /// order: log softmax of the model's unmodified logits at temperature 1 (`TreeSampler`
    /// records what `GeneratedToken.logprob` does, whatever temperature / top-k / top-p drew it).
    public var logProbs: [Float] = []
    /// Why the step stopped; `nil` while it is still being sampled.
    public var finishReason: FinishReason?
    /// Verifier reward; set on leaves only.
    public var reward: Double?
    /// Expected reward of the subtree (`Advantages.assignValues`).
    public var value: Double = 0
    /// Step-level advantage; `nil` when the node is in no kept group (the root, a single child,
    /// a group below `tau`, a pruned tree): its tokens are context only and carry no loss.
    public var advantage: Double?

    public var isLeaf: Bool { children.isEmpty && parent != nil }
}

/// A sampled tree for one prompt. Nodes live in one array in creation order, so a parent's
/// index is always below its children's and a forward scan visits parents first. The structure
/// knows nothing about the sampler: the sampler calls `addChild` / `append` and sets
/// `finishReason`; the trainer sets rewards and reads values and advantages.
public struct RolloutTree: Codable, Equatable, Sendable {
    /// The question as posed and the reference answer, for the reward function.
    public var question: String
    public var reference: String
    /// Token ids of the full prompt (after the template), the root's context.
    public var promptTokens: [Int]
    public private(set) var nodes: [RolloutNode]

    public init(question: String = "", reference: String = "", promptTokens: [Int] = []) {
        self.question = question
        self.reference = reference
        self.promptTokens = promptTokens
        nodes = [RolloutNode(parent: nil, depth: 0)]
    }

    public static let root = 0

    public subscript(index: Int) -> RolloutNode {
        get { nodes[index] }
        set { nodes[index] = newValue }
    }

    /// Adds an empty (or pre-filled) step under `parent` and returns its index.
    @discardableResult
    public mutating func addChild(of parent: Int, tokens: [Int] = [], logProbs: [Float] = [],
                                  finishReason: FinishReason? = nil, reward: Double? = nil) -> Int {
        precondition(nodes.indices.contains(parent), "RolloutTree.addChild: no node \(parent)")
        precondition(tokens.count == logProbs.count,
                     "RolloutTree.addChild: \(tokens.count) tokens but \(logProbs.count) log-probs")
        let index = nodes.count
        var node = RolloutNode(parent: parent, depth: nodes[parent].depth + 1)
        node.tokens = tokens
        node.logProbs = logProbs
        node.finishReason = finishReason
        node.reward = reward
        nodes.append(node)
        nodes[parent].children.append(index)
        return index
    }

    /// Appends one sampled token to a node's step.
    public mutating func append(token: Int, logProb: Float, to node: Int) {
        nodes[node].tokens.append(token)
        nodes[node].logProbs.append(logProb)
    }

    /// Sets why a node's step stopped, in place (through the subscript the whole node is read
    /// out and written back).
    public mutating func setFinishReason(_ reason: FinishReason?, of node: Int) {
        nodes[node].finishReason = reason
    }

    /// Reserves room for `count` tokens in a node's step, so that appending them allocates nothing.
    public mutating func reserveStep(_ count: Int, for node: Int) {
        nodes[node].tokens.reserveCapacity(count)
        nodes[node].logProbs.reserveCapacity(count)
    }

    public var leaves: [Int] { nodes.indices.filter { nodes[$0].isLeaf } }

    /// Nodes with children (the root included): each one's children form a step-level group.
    public var innerNodes: [Int] { nodes.indices.filter { !nodes[$0].children.isEmpty } }

    /// Root-excluded path from the first step down to `node`, `[depth]` indices.
    public func path(to node: Int) -> [Int] {
        var out: [Int] = []
        var k: Int? = node
        while let i = k, i != Self.root {
            out.append(i)
            k = nodes[i].parent
        }
        return out.reversed()
    }

    /// Response token ids of the answer ending at `node` (its ancestors' steps and its own).
    public func responseTokens(to node: Int) -> [Int] {
        path(to: node).flatMap { nodes[$0].tokens }
    }

    /// Leaves below `node` (itself when it is a leaf).
    public func leaves(under node: Int) -> [Int] {
        if nodes[node].isLeaf { return [node] }
        return nodes[node].children.flatMap { leaves(under: $0) }
    }

    /// Total tokens over all steps: the packed sequence length minus the prompt.
    public var stepTokenCount: Int { nodes.reduce(0) { $0 + $1.tokens.count } }

    public var maxDepth: Int { nodes.map(\.depth).max() ?? 0 }

    /// Problems a consumer should refuse: a leaf without a reward, a step whose token and
    /// log-prob counts differ, an inconsistent parent/child link. Empty when sound.
    public func validationErrors() -> [String] {
        var errors: [String] = []
        for (i, n) in nodes.enumerated() {
            if n.tokens.count != n.logProbs.count {
                errors.append("node \(i): \(n.tokens.count) tokens but \(n.logProbs.count) log-probs")
            }
            if n.isLeaf && n.reward == nil { errors.append("leaf \(i): no reward") }
            if let p = n.parent {
                if !(p < i && nodes[p].children.contains(i)) { errors.append("node \(i): parent \(p) does not list it") }
                if n.depth != nodes[p].depth + 1 { errors.append("node \(i): depth \(n.depth), parent depth \(nodes[p].depth)") }
            } else if i != Self.root {
                errors.append("node \(i): no parent")
            }
        }
        return errors
    }
}
