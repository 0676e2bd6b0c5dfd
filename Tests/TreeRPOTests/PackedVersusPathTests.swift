import Foundation
import Sampling
import Testing
import TestSupport
import ModelIO
import Transformer
@testable import TreeRPO

/// The packed-tree loss equals the same loss computed over each root-to-leaf path separately,
/// each step's tokens counted once (on the first path that reaches them): loss and every
/// gradient, for each family. The paths are built by hand as causal sequences, not packed by
/// `TreePacking.pack`, so a packing bug cannot sit on both sides.
@Suite struct PackedVersusPathTests {
    static let fixtures = Repository.fixtureModels

    /// prompt (5) -> a (3) -> {a1 (2, eos), a2 (4)};  prompt -> b (3) -> {b1 (1), b2 (3)};  prompt -> c (2).
    static func tree() -> RolloutTree {
        var t = RolloutTree(question: "q", reference: "1", promptTokens: [3, 17, 42, 8, 99])
        func add(_ parent: Int, _ tokens: [Int], _ advantage: Double?) -> Int {
            let i = t.addChild(of: parent, tokens: tokens, logProbs: tokens.map { _ in 0 }, finishReason: .stepLength)
            t[i].advantage = advantage
            return i
        }
        let a = add(0, [5, 6, 7], 0.8)
        _ = add(a, [11, 12], -1.2)
        _ = add(a, [13, 14, 15, 16], 1.2)
        let b = add(0, [21, 22, 23], nil)  // a dropped group: context only
        _ = add(b, [31], 0.5)
        _ = add(b, [32, 33, 34], -0.5)
        _ = add(0, [41, 42], -0.8)
        return t
    }

    /// A deterministic stand-in for the sampling policy's log-probability of token j of a node,
    /// spread so that some ratios fall outside the clip range.
    static func oldLogProb(node: Int, index j: Int) -> Float { -3.5 + 0.37 * Float((node * 7 + j * 3) % 11) }

    struct Result { var loss: Double; var gradients: Parameters }

    /// Forward, loss and backward over packed sequences; `nodeOf[s][k]` names the (node, index)
    /// of loss token k of sequence s for the old log-probabilities.
    static func run(_ model: TransformerModel, _ sequences: [PackedSequence], _ owners: [[(Int, Int)]],
                    settings: PolicyLossSettings) throws -> Result {
        let grads = model.parameters.zerosLike()
        var loss = 0.0
        for (s, owner) in zip(sequences, owners) {
            let a = Activations(config: model.config, capacity: s.count, keepsLayers: true)
            let mask = try s.mask()
            try model.forward(tokens: s.tokens, positions: s.positions, mask: mask, activations: a)
            let tokens = zip(s.lossTokens, owner).map { t, o in
                LossToken(row: t.row, token: t.token, advantage: t.advantage, oldLogProb: oldLogProb(node: o.0, index: o.1),
                          refLogProb: oldLogProb(node: o.0, index: o.1) + 0.3, weight: t.weight)
            }
            loss += PolicyLoss.lossAndGradient(logits: a.logits, rows: s.count, vocab: model.config.vocabSize,
                                               tokens: tokens, settings: settings).loss
            try model.backward(tokens: s.tokens, positions: s.positions, mask: mask, activations: a, gradients: grads)
        }
        return Result(loss: loss, gradients: grads)
    }

    /// (node, index) of every loss token in packing order.
    static func owners(_ t: RolloutTree, nodes: [Int]) -> [(Int, Int)] {
        nodes.flatMap { n in t[n].advantage == nil ? [] : t[n].tokens.indices.map { (n, $0) } }
    }

    @Test(arguments: ["llama-hf", "qwen2-hf", "qwen3-hf", "gpt2-hf"])
    func packedEqualsPathByPath(fixture: String) throws {
        let model = try TransformerModel(folder: Self.fixtures.appendingPathComponent(fixture))
        let tree = Self.tree()
        let settings = PolicyLossSettings(epsLow: 0.2, epsHigh: 0.28, beta: 0.05)
        let weights = TreePacking.weights([tree], aggregation: .tokenMean)
        let packed = TreePacking.pack([tree], indices: [0], weights: weights)
        let whole = try Self.run(model, [packed], [Self.owners(tree, nodes: Array(1..<tree.nodes.count))], settings: settings)

        // Path by path, built here without TreePacking (the code under test): each root-to-leaf
        // path is one plain causal sequence, prompt then the path's steps; token k is predicted
        // by row k - 1. Nodes already counted on an earlier path are context only.
        var counted = Set<Int>(), paths: [PackedSequence] = [], owners: [[(Int, Int)]] = []
        for leaf in tree.leaves {
            let path = tree.path(to: leaf)
            var sequence = PackedSequence()
            for id in tree.promptTokens { sequence.tokens.append(Int32(id)) }
            for n in path {
                for id in tree[n].tokens {
                    if let advantage = tree[n].advantage, !counted.contains(n) {
                        sequence.lossTokens.append(PackedLossToken(row: Int32(sequence.tokens.count - 1), token: Int32(id),
                                                                   advantage: Float(advantage), weight: weights[0][n]))
                    }
                    sequence.tokens.append(Int32(id))
                }
            }
            sequence.positions = (0..<sequence.tokens.count).map(Int32.init)
            sequence.predecessors = (0..<sequence.tokens.count).map { $0 - 1 }
            sequence.trees = [0]
            paths.append(sequence)
            owners.append(Self.owners(tree, nodes: path.filter { !counted.contains($0) }))
            counted.formUnion(path)
        }
        #expect(paths.reduce(0) { $0 + $1.lossTokens.count } == packed.lossTokens.count)
        let separate = try Self.run(model, paths, owners, settings: settings)

        #expect(abs(whole.loss - separate.loss) <= 1e-5 * max(1, abs(separate.loss)), "\(fixture): loss \(whole.loss) vs \(separate.loss)")
        for e in whole.gradients.entries {
            let a = UnsafeBufferPointer(start: whole.gradients.base + e.offset, count: e.spec.count)
            let b = UnsafeBufferPointer(start: separate.gradients.base + e.offset, count: e.spec.count)
            expectClose(a, b, .ofLargest(1e-4), "\(fixture) \(e.spec.name): packed vs path by path")
        }
    }
}
