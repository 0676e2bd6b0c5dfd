import Foundation
import Testing
@testable import Sampling
import ModelIO
import Transformer
import Tensors

/// The memory plan: its numbers worked out by hand, the cache the sampler really holds, and
/// the refusal of a request over the limit.
@Suite struct MemoryPlanTests {
    /// Prompts of 5 and 7 tokens, D = 2, branching 2,3, L = 4, budget 10, last level to the end.
    /// Per tree: 2 depth-1 nodes x 4 slots + 6 depth-2 nodes x (10 - 4) slots = 44;
    /// all: 5 + 7 + 2 x 44 = 100 slots; blocks 2 x (1 + 2 + 6) = 18.
    /// llama-hf: 2 layers x 2 kv heads x head dim 8 x (K, V) x 4 bytes = 256 bytes a slot.
    static let options = TreeSamplingOptions(depth: 2, branching: [2, 3], stepTokens: 4, maxResponseTokens: 10, seed: 1)

    @Test func planNumbersMatchTheHandCount() throws {
        let model = try SamplingFixtures.model("llama-hf")
        let plan = TreeSampler.memoryPlan(config: model.config, promptLengths: [5, 7], options: Self.options)
        #expect(plan.kvSlots == 100 && plan.blocks == 18 && plan.bytesPerSlot == 256 && plan.kvBytes == 25_600)
        // Rows: 12 prompt tokens in the prefill; 2 x 6 open branches at most.
        #expect(plan.forwardRows == 12 && plan.logitRows == 12)
        // Activations, counted by hand from the buffer plan (h 32, q 4 x 8, kv 2 x 8, intermediate
        // 64, vocab 128; 12 rows, 12 logit rows, every buffer rounded up to 16 floats):
        // shared x, finalIn, finalOut 384 each + finalRstd 12 -> 16 + logits 1536 = 2704;
        // one layer slot norm1 384 + rstd1 16 + q 384 + k, v 192 each + attn 384 + lse 48 +
        // norm2 384 + rstd2 16 + gate, up, act 768 each = 4304. 7008 floats = 28032 bytes, plus
        // the cached batch's 12 rows x 20 bytes = 240.
        #expect(plan.activationBytes == 28_032 + 240, "activations \(plan.activationBytes) bytes, hand count 28272")
        // Attention scratch: one row of 100 slot scores (4 bytes) per worker thread.
        let workers = max(Compute.threads, Compute.defaultThreads)
        #expect(plan.scratchBytes == workers * 100 * 4, "scratch \(plan.scratchBytes) bytes for \(workers) workers")
        #expect(plan.totalBytes == 25_600 + 28_272 + workers * 400, "total \(plan.totalBytes) bytes, hand count \(25_600 + 28_272 + workers * 400)")

        // Newline steps may be as short as M = 2 before the last level: 6 x (10 - 2) slots there.
        var newline = Self.options
        newline.stepBoundary = .newline(minTokens: 2)
        #expect(TreeSampler.memoryPlan(config: model.config, promptLengths: [5, 7], options: newline).kvSlots == 12 + 2 * (8 + 48))
        // Cut at depth D: every node holds one step at most.
        var cut = Self.options
        cut.lastLevelRunsToEnd = false
        #expect(TreeSampler.memoryPlan(config: model.config, promptLengths: [5, 7], options: cut).kvSlots == 12 + 2 * (8 + 24))
        // A level the budget cannot reach holds nothing: with budget 4 the depth-1 steps spend it.
        var short = Self.options
        short.maxResponseTokens = 4
        let shortPlan = TreeSampler.memoryPlan(config: model.config, promptLengths: [5, 7], options: short)
        #expect(shortPlan.kvSlots == 12 + 2 * 8 && shortPlan.blocks == 2 * 3)
    }

    /// Without stop tokens every node exists and every step is full: the cache the sampler
    /// reserves is exactly the plan.
    @Test func theSamplerHoldsWhatThePlanSays() throws {
        let sampler = TreeSampler(model: try SamplingFixtures.model("llama-hf"))
        let trees = try sampler.sample(prompts: [[1, 3, 5, 7, 9], [2, 4, 6, 8, 10, 12, 14]], options: Self.options)
        #expect(trees.map { $0.nodes.count } == [9, 9])
        #expect(sampler.lastStats.kvSlotsUsed == 100 && sampler.lastStats.plan?.kvSlots == 100)
        #expect(trees.allSatisfy { t in t.leaves.allSatisfy { t.responseTokens(to: $0).count == 10 } })
    }

    @Test func aRequestOverTheLimitIsRefusedWithTheNumbers() throws {
        let model = try SamplingFixtures.model("llama-hf")
        let sampler = TreeSampler(model: model)
        let prompts = [[1, 3, 5, 7, 9], [2, 4, 6, 8, 10, 12, 14]]
        let plan = TreeSampler.memoryPlan(config: model.config, promptLengths: [5, 7], options: Self.options)
        do {
            _ = try sampler.sample(prompts: prompts, options: Self.options, memoryLimitBytes: plan.totalBytes - 1)
            Issue.record("a request one byte over the limit was not refused")
        } catch {
            let text = "\(error)"
            #expect(text.contains("(\(plan.totalBytes) bytes), over the memory limit"), "\(text)")
            #expect(text.contains("(\(plan.totalBytes - 1) bytes)") && text.contains("100 token slots x 256 bytes"), "\(text)")
            // The library names the setting; the command line adds its flag (--max-memory, checked
            // in TreeRPOTests' SharedLoaderTests and CLITests' SettingFlagTests).
            #expect(text.contains("or raise the memory limit") && !text.contains("--"), "\(text)")
            #expect((error as? TreeSamplingError)?.setting == .memoryLimit, "\(error)")
        }
        #expect(try sampler.sample(prompts: prompts, options: Self.options, memoryLimitBytes: plan.totalBytes).count == 2)
        #expect(SystemMemory.availableBytes() > 0)
    }

    /// The default limit is half of MemAvailable, parsed from a fixed text: reading the live
    /// /proc/meminfo twice would race with every suite allocating in parallel.
    @Test func defaultLimitIsHalfOfMemAvailable() {
        let meminfo = "MemTotal:       16318412 kB\nMemFree:          532100 kB\nMemAvailable:    9876544 kB\nBuffers:  1 kB\n"
        #expect(SystemMemory.availableBytes(meminfo: meminfo) == 9_876_544 * 1024)
        #expect(SystemMemory.availableBytes(meminfo: "MemTotal: 5 kB\n") == nil)
        #expect(SystemMemory.defaultLimitBytes(available: 9_876_544 * 1024) == 9_876_544 * 512)
    }
}
