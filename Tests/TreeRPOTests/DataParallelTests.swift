import Foundation
import ModelIO
@testable import Sampling
import Tensors
import Testing
import TestSupport
import Transformer
@testable import TreeRPO

/// Issue 18: the trainer spreads its work over one worker per thread (`Compute.dataParallel`),
/// the micro-batches of an update, the trees of a sampling batch and the batches of an
/// evaluation, on the bundled model. Each is checked against the same work done one piece after
/// another.
@Suite struct DataParallelTests {
    /// Four micro-batches over two workers: each sequence's old log-probabilities are those of
    /// one worker (the same forward, bit for bit), the loss and gradient those of one worker up
    /// to the order of the sum, and two runs on two workers agree bit for bit.
    @Test func twoWorkersGiveOneWorkersGradient() throws {
        let root = try BundledModel.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let loaded = try WorkspaceModel.load(try BundledModel.workspace(in: root))
        let sequences = try HandMadeTrees.sequences(count: 4)
        func run(workers: Int) throws -> (summary: PolicyGradient.LossSummary, tokens: [[LossToken]], gradient: [UInt32]) {
            let g = PolicyGradient(model: loaded.model, reference: nil)
            g.workers = workers
            let (summary, tokens) = try g.firstEpoch(sequences, settings: PolicyLossSettings())
            return (summary, tokens, BundledModel.bits(g.gradients))
        }
        let one = try run(workers: 1), two = try run(workers: 2), again = try run(workers: 2)
        #expect(two.tokens == one.tokens, "old log-probabilities of two workers differ from one worker's")
        #expect(abs(two.summary.loss - one.summary.loss) <= 1e-6 * max(1, abs(one.summary.loss)),
                "loss \(two.summary.loss) on two workers, \(one.summary.loss) on one")
        let a = one.gradient.map(Float.init(bitPattern:)), b = two.gradient.map(Float.init(bitPattern:))
        #expect(a.contains { $0 != 0 }, "the gradient is zero")
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in expectClose(b, a, .ofLargest(1e-5), "gradient on two workers against one") }
        }
        #expect(again.gradient == two.gradient && again.summary.loss == two.summary.loss,
                "two runs on two workers differ: the reduction order is not fixed")
    }

    /// The trainer samples in one shard per thread and updates on one worker per thread for a
    /// small model only: a SmolLM2-135M-sized model samples in one batch on both threads (its
    /// 64-row decode products beat two 32-row ones on a core each) and updates on one worker,
    /// whose extra gradient buffer and activations would cost about 1.3 GB (docs/bench-step.md,
    /// "Peak memory of the treerpo step").
    @Test func onlyASmallModelSamplesAndUpdatesOnOneWorkerPerThread() throws {
        let root = try BundledModel.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let loaded = try WorkspaceModel.load(try BundledModel.workspace(in: root))
        let bundled = loaded.model.parameters.count
        #expect(DataParallelWorkers.count(threads: 2, parameters: bundled) == 2, "the bundled model (\(bundled) parameters) runs on one worker")
        #expect(DataParallelWorkers.count(threads: 1, parameters: bundled) == 1)
        #expect(DataParallelWorkers.count(threads: 2, parameters: 134_515_008) == 1, "SmolLM2-135M runs on two workers")
    }

    /// Tree sampling in two shards returns, tree for tree, what sampling each shard's prompts
    /// alone on one thread returns (same streams), with the shards' statistics added; and the
    /// trees carry the tokens one batch of all prompts draws.
    @Test func shardsSampleTheTreesOfEachShardAlone() throws {
        let root = try BundledModel.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let loaded = try WorkspaceModel.load(try BundledModel.workspace(in: root))
        let problems = try ArithmeticTask().generate(count: 5, seed: 11)
        let prompts = try problems.map { try PromptTemplate.arithmetic.promptTokens(question: $0.question, tokenizer: loaded.tokenizer) }
        let options = TreeSamplingOptions(shape: TreeShape(depth: 2, branching: [2], stepTokens: 6, maxResponseTokens: 24),
                                          seed: 9, stopTokens: loaded.stopTokens)
        let sharded = TreeSampler(model: loaded.model)
        let trees = try sharded.sample(prompts: prompts, options: options, workers: 2)
        let stats = sharded.lastStats

        // Shards 0..<3 and 3..<5 (Compute.chunkRange), each alone with its own streams.
        var alone: [RolloutTree] = [], sampled = 0, computed = 0
        for range in [0..<3, 3..<5] {
            let sampler = TreeSampler(model: loaded.model)
            alone += try Compute.withThreads(1) {
                try sampler.sample(prompts: Array(prompts[range]), options: options, streams: range.map(UInt64.init))
            }
            sampled += sampler.lastStats.sampledTokens
            computed += sampler.lastStats.computedTokens
        }
        #expect(trees == alone, "a shard's trees differ from its prompts sampled alone")
        #expect(stats.trees == 5 && stats.sampledTokens == sampled && stats.computedTokens == computed && stats.computesEachTokenOnce)

        let whole = try TreeSampler(model: loaded.model).sample(prompts: prompts, options: options)
        #expect(trees.map { $0.nodes.map(\.tokens) } == whole.map { $0.nodes.map(\.tokens) },
                "sharded trees drew other tokens than one batch of all prompts")
    }

    /// An evaluation whose batches are dealt out to two workers equals the one-thread evaluation.
    @Test func evaluationIsTheSameOnOneAndTwoThreads() throws {
        let root = try BundledModel.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let loaded = try WorkspaceModel.load(try BundledModel.workspace(in: root))
        let problems = try ArithmeticTask().generate(count: 6, seed: 12).map { Problem(question: $0.question, solution: $0.solution) }
        func run(_ threads: Int) throws -> EvaluationResult {
            try Compute.withThreads(threads) {
                try Evaluation.run(model: loaded.model, tokenizer: loaded.tokenizer, problems: problems, template: .arithmetic,
                                   stopTokens: loaded.stopTokens,
                                   options: EvaluationOptions(samples: 2, maxResponseTokens: 48, seed: 3, batchSize: 3))
            }
        }
        let one = try run(1), two = try run(2)
        #expect(two == one)
        #expect(one.meanResponseTokens > 1, "the evaluation sampled nothing")
    }

    /// The command line owns OpenBLAS's thread count, so its workers run OpenBLAS on one thread
    /// each (the test process leaves the count alone): two `finetune --threads 2` runs end with
    /// the same weights bit for bit, and `eval` prints the same numbers on one thread and two.
    @Test func commandLineRunsRepeatBitForBitOnTwoThreads() throws {
        let root = try BundledModel.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let ws = try BundledModel.workspace(in: root)
        var weights: [Data] = []
        for run in ["a", "b"] {
            let o = try TreerpoProgram.run([
                "finetune", "--workspace", ws.root.path, "--task", "arithmetic", "--run", run, "--steps", "2",
                "--prompts-per-step", "8", "--max-response-tokens", "48", "--lr", "1e-3", "--tau", "0", "--no-prune",
                "--micro-batch-tokens", "128", "--checkpoint-every", "2", "--threads", "2"])
            #expect(o.status == 0, "finetune: \(o.stderr)")
            let checkpoint = try #require(ws.checkpoints(run: run).last, "run \(run) saved no checkpoint")
            weights.append(try Data(contentsOf: checkpoint.weights))
        }
        #expect(weights[0] == weights[1], "two finetune runs on two threads ended with different weights")
        let metrics = try String(contentsOf: ws.run("a").appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        #expect(metrics.contains("\"tokens_trained\""), "no update ran")

        let evaluations = try ["1", "2"].map { threads in
            let o = try TreerpoProgram.run([
                "eval", "--workspace", ws.root.path, "--data", "arithmetic", "--questions", "8", "--samples", "2",
                "--max-response-tokens", "48", "--json", "--threads", threads])
            #expect(o.status == 0, "eval: \(o.stderr)")
            return o.stdout
        }
        #expect(evaluations[0] == evaluations[1] && evaluations[0].contains("\"pass@1\""))
    }
}
