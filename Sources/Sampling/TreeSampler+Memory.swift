import Foundation
import Tensors
import Transformer

/// The worst-case memory of one `TreeSampler.sample` call, computed before anything is
/// allocated so that a request too large is refused with the numbers instead of ending in an
/// out-of-memory kill. The KV cache is allocated at exactly `kvSlots` slots, so the plan is
/// what the call holds, not an estimate (model weights, loaded already, are not counted).
public struct MemoryPlan: Sendable, Equatable, CustomStringConvertible {
    public var trees: Int
    /// Token slots of the KV cache: every prompt, plus each possible node's largest step.
    public var kvSlots: Int
    /// Cache blocks: one per prompt and one per possible node.
    public var blocks: Int
    /// Bytes of K and V per slot over all layers: layers x kvHeads x headDim x 2 x 4.
    public var bytesPerSlot: Int
    public var kvBytes: Int
    /// Most rows of one forward: the prompts' tokens (prefill) or the open branches (decode).
    public var forwardRows: Int
    /// Most logit rows of one forward: one per prompt, or one per open branch.
    public var logitRows: Int
    /// Forward activations and the attention score buffers.
    public var activationBytes: Int
    public var scratchBytes: Int
    public var totalBytes: Int

    /// Throws unless `totalBytes <= limitBytes`, with every number of the plan.
    public func check(limitBytes: Int) throws {
        guard totalBytes <= limitBytes else {
            throw TreeSamplingError("the requested trees need up to \(Self.format(totalBytes)) (\(totalBytes) bytes), over the memory limit of \(Self.format(limitBytes)) (\(limitBytes) bytes): \(self); lower the number of prompts, the branching, the depth, or the response/step tokens, or raise the memory limit", setting: .memoryLimit)
        }
    }

    public var description: String {
        "KV cache \(Self.format(kvBytes)) = \(kvSlots) token slots x \(bytesPerSlot) bytes (\(trees) trees, \(blocks) blocks), "
            + "activations \(Self.format(activationBytes)) (\(forwardRows) rows, \(logitRows) logit rows), "
            + "attention scratch \(Self.format(scratchBytes))"
    }

    /// "1.23 GB" (decimal units, as --max-memory reads them).
    public static func format(_ bytes: Int) -> String {
        let b = Double(bytes)
        if b >= 1e9 { return String(format: "%.2f GB", b / 1e9) }
        if b >= 1e6 { return String(format: "%.1f MB", b / 1e6) }
        return String(format: "%.1f kB", b / 1e3)
    }
}

extension TreeSampler {
    /// The worst case of sampling one tree per prompt with `options`: every node expands until
    /// its level's branching is spent, no step ends early by EOS, and each step holds as many
    /// tokens as its boundary and the budget allow. A node at depth d exists only if its d - 1
    /// ancestors ended by their step boundary (each at least `shortestFullStep` tokens) with
    /// budget left, so its step holds at most `blockCapacity(d, (d - 1) x shortestFullStep)`.
    public static func memoryPlan(config: ModelConfig, promptLengths: [Int], options: TreeSamplingOptions) -> MemoryPlan {
        var slotsPerTree = 0, blocksPerTree = 1, nodes = 1, widest = 1
        for d in 1...max(1, options.depth) {
            let pathBefore = (d - 1) * options.shortestFullStep
            if pathBefore >= options.maxResponseTokens { break }
            nodes = saturatingMultiply(nodes, max(1, options.branching[min(d - 1, options.branching.count - 1)]))
            widest = max(widest, nodes)
            blocksPerTree = saturatingAdd(blocksPerTree, nodes)
            let capacity = options.blockCapacity(depth: d, pathBefore: pathBefore)
            slotsPerTree = saturatingAdd(slotsPerTree, saturatingMultiply(nodes, capacity))
        }
        let trees = promptLengths.count, promptTokens = promptLengths.reduce(0, +)
        let slots = saturatingAdd(promptTokens, saturatingMultiply(trees, slotsPerTree))
        let bytesPerSlot = config.layers * config.kvHeads * config.headDim * 2 * MemoryLayout<Float>.size
        // Open branches are disjoint subtrees, so at most one per possible leaf: `widest`.
        let branches = saturatingMultiply(trees, widest)
        let rows = max(promptTokens, branches), logitRows = max(trees, branches)
        let workers = max(Compute.threads, Compute.defaultThreads)
        let activations = BufferPlan(config: config, tokens: rows, logitRows: logitRows, keepsLayers: false, backward: false).bytes
        let scratch = saturatingMultiply(workers, saturatingMultiply(max(1, slots), 4))
        let kvBytes = saturatingMultiply(slots, bytesPerSlot)
        // CachedBatch: five Int32 per row.
        let batchBytes = saturatingMultiply(rows, 20)
        return MemoryPlan(
            trees: trees, kvSlots: slots, blocks: saturatingMultiply(trees, blocksPerTree), bytesPerSlot: bytesPerSlot,
            kvBytes: kvBytes, forwardRows: rows, logitRows: logitRows, activationBytes: saturatingAdd(activations, batchBytes),
            scratchBytes: scratch, totalBytes: saturatingAdd(saturatingAdd(kvBytes, activations), saturatingAdd(scratch, batchBytes)))
    }
}

/// The machine's memory as the kernel reports it, for the default `--max-memory`.
public enum SystemMemory {
    /// `MemAvailable` of /proc/meminfo in bytes (memory a new allocation can get without
    /// swapping); the physical memory when that file cannot be read.
    public static func availableBytes() -> Int {
        if let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8), let bytes = availableBytes(meminfo: text) {
            return bytes
        }
        return Int(clamping: ProcessInfo.processInfo.physicalMemory)
    }

    /// `MemAvailable` of a /proc/meminfo text in bytes, nil when the line is absent or unreadable.
    public static func availableBytes(meminfo text: String) -> Int? {
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let fields = line.split(separator: " ")
            if fields.count >= 2, let kB = Int(fields[1]) { return kB * 1024 }
        }
        return nil
    }

    /// Half of the available memory: the sampler's default limit, leaving the rest to the
    /// trainer's own buffers and to other processes.
    public static func defaultLimitBytes() -> Int { defaultLimitBytes(available: availableBytes()) }

    public static func defaultLimitBytes(available: Int) -> Int { available / 2 }
}
