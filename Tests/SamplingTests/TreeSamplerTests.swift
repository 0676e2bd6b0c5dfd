import Foundation
import Testing
import TestSupport
@testable import Sampling
import ModelIO
import Transformer

/// The tree sampler on the fixture models: its log-probabilities against a plain forward over
/// every root-to-leaf text, D = 1 against the flat `Generator`, tree structure rules, and
/// independence from the batch.
@Suite struct TreeSamplerTests {
    /// D = 3, branching 3,2,2, 5-token steps, 24-token budget (prompt + budget <= 64 positions).
    static func mixedOptions(stop: Set<Int> = [], seed: UInt64 = 11) -> TreeSamplingOptions {
        TreeSamplingOptions(depth: 3, branching: [3, 2, 2], stepTokens: 5, maxResponseTokens: 24,
                            sampler: SamplerChain(temperature: 1.2), seed: seed, stopTokens: stop)
    }

    /// Samples once without a stop token, then again with the most frequent sampled id as EOS,
    /// so that some branches end by EOS and others run to the budget.
    static func treesWithEOS(_ sampler: TreeSampler, _ options: TreeSamplingOptions) throws -> (trees: [RolloutTree], options: TreeSamplingOptions) {
        var options = options
        options.stopTokens = []
        let eos = SamplingFixtures.mostFrequentToken(try sampler.sample(prompts: SamplingFixtures.prompts, options: options))
        options.stopTokens = [eos]
        return (try sampler.sample(prompts: SamplingFixtures.prompts, options: options), options)
    }

    @Test(arguments: SamplingFixtures.families)
    func everyRecordedLogProbEqualsAPlainForwardOverTheLeafText(fixture: String) throws {
        let model = try SamplingFixtures.model(fixture)
        let sampler = TreeSampler(model: model)
        let (trees, options) = try Self.treesWithEOS(sampler, Self.mixedOptions())
        let stats = sampler.lastStats
        var logProbs = NumericComparison(Tolerance(absolute: 1e-4))
        var finishes: [FinishReason: Int] = [:]
        for (i, tree) in trees.enumerated() {
            #expect(tree.promptTokens == SamplingFixtures.prompts[i])
            try TreeRules.check(tree, options)
            for leaf in tree.leaves {
                finishes[tree[leaf].finishReason!, default: 0] += 1
                let response = tree.responseTokens(to: leaf)
                let reference = try SamplingFixtures.plainForwardLogProbs(model, tokens: tree.promptTokens + response)
                let recorded = tree.path(to: leaf).flatMap { tree[$0].logProbs }
                #expect(recorded.count == response.count)
                let start = tree.promptTokens.count - 1
                logProbs.add(recorded, reference[start..<min(reference.count, start + recorded.count)])
            }
        }
        logProbs.expectPasses("\(fixture): recorded log-probs vs a plain forward; \(SamplingFixtures.regenerate)")
        #expect(logProbs.count > 100)
        // Some branches ended by EOS, some ran to the budget: both paths of the code ran.
        #expect((finishes[.eos] ?? 0) >= 1 && (finishes[.budget] ?? 0) >= 1, "\(fixture): leaf finish reasons \(finishes)")

        // No recomputation: prompts once, every step token once (a leaf's last token is never fed).
        let stepTokens = trees.reduce(0) { $0 + $1.stepTokenCount }
        let leaves = trees.reduce(0) { $0 + $1.leaves.count }
        #expect(stats.sampledTokens == stepTokens && stats.leaves == leaves)
        #expect(stats.promptTokens == SamplingFixtures.prompts.reduce(0) { $0 + $1.count })
        #expect(stats.computedTokens == stats.promptTokens + stepTokens - leaves && stats.computesEachTokenOnce)
        let pathTokens = trees.reduce(0) { t, tree in t + tree.leaves.reduce(0) { $0 + tree.promptTokens.count + tree.responseTokens(to: $1).count } }
        #expect(stats.leafPathTokens == pathTokens && stats.computedTokens < pathTokens)
        #expect(stats.kvSlotsUsed <= stats.plan!.kvSlots)
    }

    /// GRPO's case: a D = 1, N = G tree batch is G independent samples per prompt, token for
    /// token the flat `Generator` over each prompt repeated G times, with the same seed.
    @Test func depthOneTreeEqualsTheFlatGenerator() throws {
        let model = try SamplingFixtures.model("qwen2-hf")
        let g = 4, budget = 14
        let sampler = SamplerChain(temperature: 1.3, topK: 40, topP: 0.95)
        var options = TreeSamplingOptions(depth: 1, branching: [g], stepTokens: 3, maxResponseTokens: budget, sampler: sampler, seed: 5)
        let probe = try TreeSampler(model: model).sample(prompts: SamplingFixtures.prompts, options: options)
        options.stopTokens = [SamplingFixtures.mostFrequentToken(probe)]
        let trees = try TreeSampler(model: model).sample(prompts: SamplingFixtures.prompts, options: options)

        let repeated = SamplingFixtures.prompts.flatMap { Array(repeating: $0, count: g) }
        let flat = try Generator(model: model).generate(
            prompts: repeated,
            options: GenerationOptions(maxNewTokens: budget, sampler: sampler, seed: 5, stopTokens: options.stopTokens))
        var stops = 0
        for (i, tree) in trees.enumerated() {
            #expect(tree[RolloutTree.root].children.count == g && tree.nodes.count == g + 1)
            for (j, child) in tree[RolloutTree.root].children.enumerated() {
                let f = flat[i * g + j], node = tree[child]
                #expect(node.tokens == f.tokens.map(\.id), "tree \(i) child \(j)")
                #expect(zip(node.logProbs, f.tokens).allSatisfy { abs($0 - $1.logprob) <= 1e-5 })
                #expect(node.finishReason == (f.finish == .stop ? .eos : .budget))
                if f.finish == .stop { stops += 1 }
            }
        }
        #expect(stops >= 1 && stops < trees.count * g, "stop-token path not exercised: \(stops) of \(trees.count * g)")
    }

    /// EOS, the budget and both step boundaries, on trees with and without a last level that
    /// runs to the end.
    @Test(arguments: [
        (StepBoundary.tokens, true), (.tokens, false), (.newline(minTokens: 2), true), (.newline(minTokens: 2), false),
    ])
    func stepBoundariesEOSAndTheBudgetCutWhereTheySay(boundary: StepBoundary, runsToEnd: Bool) throws {
        let sampler = TreeSampler(model: try SamplingFixtures.model("llama-hf"))
        var options = Self.mixedOptions(seed: 3)
        options.stepTokens = 6
        options.stepBoundary = boundary
        // About a fifth of the vocabulary counts as "newline": steps end early often.
        options.newlineTokens = Set(0..<24)
        options.lastLevelRunsToEnd = runsToEnd
        let (trees, used) = try Self.treesWithEOS(sampler, options)
        var seen: [FinishReason: Int] = [:], shortSteps = 0
        for tree in trees {
            try TreeRules.check(tree, used)
            for n in tree.nodes.dropFirst() {
                seen[n.finishReason!, default: 0] += 1
                if n.finishReason == .stepLength && n.tokens.count < used.stepTokens { shortSteps += 1 }
            }
        }
        #expect((seen[.eos] ?? 0) >= 1 && (seen[.stepLength] ?? 0) >= 1, "\(seen)")
        #expect((seen[.depth] ?? 0) >= 1 || runsToEnd, "no node was cut at depth D: \(seen)")
        if case .newline = boundary { #expect(shortSteps >= 1, "no step ended at a newline before \(used.stepTokens) tokens") }
        else { #expect(shortSteps == 0) }
    }

    /// A tree depends on the seed and its stream only: sampled alone it equals the same tree
    /// sampled in a batch of prompts.
    @Test(arguments: SamplingFixtures.families)
    func sameSeedSameTreeWhateverTheBatch(fixture: String) throws {
        let sampler = TreeSampler(model: try SamplingFixtures.model(fixture))
        let options = Self.mixedOptions(stop: [7], seed: 21)
        let together = try sampler.sample(prompts: SamplingFixtures.prompts, options: options)
        for i in SamplingFixtures.prompts.indices {
            let alone = try sampler.sample(prompts: [SamplingFixtures.prompts[i]], options: options, streams: [UInt64(i)])[0]
            #expect(alone.nodes.map(\.tokens) == together[i].nodes.map(\.tokens), "\(fixture) tree \(i)")
            #expect(alone.nodes.map(\.children) == together[i].nodes.map(\.children))
            #expect(alone.nodes.map(\.finishReason) == together[i].nodes.map(\.finishReason))
            let a = alone.nodes.flatMap(\.logProbs), b = together[i].nodes.flatMap(\.logProbs)
            #expect(a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= 1e-5 })
        }
        // Another seed gives another tree.
        var other = options
        other.seed = 22
        #expect(try sampler.sample(prompts: SamplingFixtures.prompts, options: other).map { $0.nodes.map(\.tokens) }
                != together.map { $0.nodes.map(\.tokens) })
    }

    @Test func badRequestsAreRefusedNamingTheField() throws {
        let sampler = TreeSampler(model: try SamplingFixtures.model("gpt2-hf"))
        func message(_ options: TreeSamplingOptions, prompts: [[Int]] = SamplingFixtures.prompts) -> String {
            do { _ = try sampler.sample(prompts: prompts, options: options); return "" } catch { return "\(error)" }
        }
        var o = Self.mixedOptions()
        o.branching = [2, 2]
        #expect(message(o).contains("branching: expected one number per level (3), found 2"))
        o = Self.mixedOptions()
        o.maxResponseTokens = 60
        #expect(message(o).contains("need 69 positions; the model has 64 (max_position_embeddings)"))
        o = Self.mixedOptions()
        o.stepBoundary = .newline(minTokens: 9)
        #expect(message(o).contains("stepBoundary.minTokens: expected 1...5"))
        #expect(message(Self.mixedOptions(), prompts: [[1, 2], []]).contains("prompt 1 is empty"))
        #expect(message(Self.mixedOptions(), prompts: [[1, 128]]).contains("outside the vocabulary (128 ids)"))
        // One number is used at every level.
        #expect(TreeSamplingOptions(depth: 3, branching: [4]).branching == [4, 4, 4])
    }
}

/// The structural rules of docs/method.md "Tree sampling", checked on a sampled tree.
enum TreeRules {
    static func check(_ tree: RolloutTree, _ o: TreeSamplingOptions) throws {
        #expect(tree.validationErrors().allSatisfy { $0.hasSuffix("no reward") })
        #expect(tree[RolloutTree.root].children.count == o.branching[0])
        for (i, n) in tree.nodes.enumerated() where i != RolloutTree.root {
            let where_ = "node \(i) (depth \(n.depth), \(n.tokens.count) tokens, \(n.finishReason.map { "\($0)" } ?? "no finish"))"
            guard let finish = n.finishReason else { Issue.record("\(where_): no finish reason"); continue }
            #expect(!n.tokens.isEmpty && n.tokens.count == n.logProbs.count, "\(where_)")
            let path = tree.responseTokens(to: i).count
            #expect(path <= o.maxResponseTokens, "\(where_): path of \(path) tokens over the budget")
            // A stop token only ever ends a step, and ends it as .eos.
            #expect(!n.tokens.dropLast().contains { o.stopTokens.contains($0) }, "\(where_): EOS inside the step")
            #expect(o.stopTokens.contains(n.tokens.last!) == (finish == .eos), "\(where_)")
            // Only a node that ended by its step boundary below depth D has children, N_d of them.
            #expect(n.children.count == (finish == .stepLength ? o.branching[n.depth] : 0), "\(where_)")
            switch finish {
            case .eos: break
            case .budget: #expect(path == o.maxResponseTokens, "\(where_)")
            case .stepLength: #expect(n.depth < o.depth, "\(where_)")
            case .depth: #expect(n.depth == o.depth && !o.lastLevelRunsToEnd, "\(where_)")
            }
            let runsOn = n.depth == o.depth && o.lastLevelRunsToEnd
            if runsOn {
                #expect(finish == .eos || finish == .budget, "\(where_): the last level runs to EOS or the budget")
                continue
            }
            // Where the boundary cuts: after L tokens, or (newline) at the first newline token
            // at or after the M-th; a step that ended otherwise (EOS, budget) passed no cut.
            var cut = o.stepTokens
            if case .newline(let m) = o.stepBoundary,
               let k = n.tokens.indices.first(where: { $0 >= m - 1 && $0 < o.stepTokens && o.newlineTokens.contains(n.tokens[$0]) }) {
                cut = k + 1
            }
            if finish == .stepLength || finish == .depth {
                #expect(n.tokens.count == cut, "\(where_): expected the step cut at \(cut)")
            } else {
                #expect(n.tokens.count <= cut, "\(where_): step ran past its cut at \(cut)")
            }
        }
    }
}
