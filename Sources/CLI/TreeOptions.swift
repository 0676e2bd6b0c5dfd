import ArgumentParser
import Foundation
import Sampling

/// How a tree is shaped and sampled: shared by `sample`, `finetune` and `bench sample`
/// (`@OptionGroup`). The shape's options read into Sampling's `TreeShape`, whose defaults they
/// show. The seed is not here: each command owns its `--seed`.
struct TreeOptions: ParsableArguments {
    @Option(help: "Tree depth D: levels of steps below the prompt (1 = complete answers, as GRPO).")
    var depth = TreeShape.defaultDepth

    @Option(help: "Children per node: one number for every level (2) or one per level (4,2,2).")
    var branching = "\(TreeShape.defaultBranching)"

    @Option(name: .customLong("step-tokens"), help: "Step length L in tokens (with --step-boundary newline: the longest step).")
    var stepTokens = TreeShape.defaultStepTokens

    @Option(name: .customLong("step-boundary"), help: "Where a step ends: tokens (every L tokens) or newline (first newline after --min-step-tokens).")
    var stepBoundary: StepBoundary.Kind = .tokens

    @Option(name: .customLong("min-step-tokens"), help: "With --step-boundary newline: fewest tokens before a newline may end a step.")
    var minStepTokens = TreeShape.defaultMinStepTokens

    @Flag(name: .customLong("last-level-runs-to-end"), inversion: .prefixedNo,
          help: "Depth-D steps run on to EOS or the budget (else they are cut after one step).")
    var lastLevelRunsToEnd = true

    @Option(name: .customLong("max-response-tokens"),
            help: "Most response tokens on any root-to-leaf path (default \(TreeShape.defaultMaxResponseTokens), lowered by sample to what fits the model's context).")
    var maxResponseTokensOption: Int?

    var maxResponseTokens: Int { maxResponseTokensOption ?? TreeShape.defaultMaxResponseTokens }

    /// The response budget for a prompt of `promptLength` tokens in a model of `positions`: a
    /// budget given on the command line stands (the sampler refuses one that cannot fit, with the
    /// numbers); the default is lowered to fit, with a note saying so.
    func responseBudget(promptLength: Int, positions: Int) throws -> (tokens: Int, note: String?) {
        guard maxResponseTokensOption == nil,
              let room = try shape().responseTokensFitting(promptLength: promptLength, positions: positions) else { return (maxResponseTokens, nil) }
        return (room, "note: --max-response-tokens lowered from its default \(maxResponseTokens) to \(room): the prompt takes \(promptLength) of the model's \(positions) positions")
    }

    @Option(help: "Sampling temperature (0 = greedy).")
    var temperature: Float = 1

    @Option(name: .customLong("top-p"), help: "Nucleus sampling: keep the most likely tokens up to this probability (1 = off).")
    var topP: Float = 1

    @Option(name: .customLong("top-k"), help: "Keep only the k most likely tokens (0 = off).")
    var topK = 0

    @Option(name: .customLong("max-memory"), help: "Refuse trees whose worst-case sampling memory exceeds this: bytes or 512MB, 4GB (default: half the available memory).")
    var maxMemory: String?

    func validate() throws {
        guard depth >= 1 else { throw ValidationError("--depth must be at least 1, got \(depth)") }
        _ = try branchingPerLevel()
        guard stepTokens >= 1 else { throw ValidationError("--step-tokens must be at least 1, got \(stepTokens)") }
        // Read only with --step-boundary newline: a short --step-tokens alone is no error.
        guard stepBoundary == .tokens || (1...stepTokens).contains(minStepTokens) else {
            throw ValidationError("--min-step-tokens must be in 1...\(stepTokens) (--step-tokens), got \(minStepTokens)")
        }
        guard maxResponseTokens >= 1 else { throw ValidationError("--max-response-tokens must be at least 1, got \(maxResponseTokens)") }
        guard temperature >= 0, temperature.isFinite else { throw ValidationError("--temperature must be >= 0, got \(temperature)") }
        guard topP > 0 && topP <= 1 else { throw ValidationError("--top-p must be in (0, 1], got \(topP)") }
        guard topK >= 0 else { throw ValidationError("--top-k must be >= 0, got \(topK)") }
        _ = try memoryLimitBytes()
    }

    /// `--branching` as one count per level.
    func branchingPerLevel() throws -> [Int] {
        let parts = branching.split(separator: ",", omittingEmptySubsequences: false)
        let numbers = parts.compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard numbers.count == parts.count, numbers.allSatisfy({ $0 >= 1 }), numbers.count == 1 || numbers.count == depth else {
            throw ValidationError("--branching: expected one number >= 1 or \(depth) comma-separated numbers (one per level of --depth \(depth)), got \(branching.debugDescription)")
        }
        return numbers.count == 1 ? Array(repeating: numbers[0], count: depth) : numbers
    }

    /// `--max-memory` in bytes; nil: the sampler's default (half the available memory).
    func memoryLimitBytes() throws -> Int? {
        guard let maxMemory else { return nil }
        let text = maxMemory.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [(String, Double)] = [("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3), ("B", 1)]
        var number = Substring(text), scale = 1.0
        if let unit = units.first(where: { text.hasSuffix($0.0) }) {
            number = text.dropLast(unit.0.count)
            scale = unit.1
        }
        guard let value = Double(number.trimmingCharacters(in: .whitespaces)), value > 0, value * scale < 9e18 else {
            throw ValidationError("--max-memory: expected bytes or a size such as 512MB or 4GB, got \(maxMemory.debugDescription)")
        }
        return Int(value * scale)
    }

    /// The tree shape given, with `maxResponseTokens` replaced by `budget` when given.
    func shape(maxResponseTokens budget: Int? = nil) throws -> TreeShape {
        TreeShape(depth: depth, branching: try branchingPerLevel(), stepTokens: stepTokens, stepBoundary: stepBoundary,
                  minStepTokens: minStepTokens, lastLevelRunsToEnd: lastLevelRunsToEnd,
                  maxResponseTokens: budget ?? maxResponseTokens)
    }

    /// The sampler's options; `newlineTokens` and `stopTokens` come from the workspace's
    /// tokenizer and model config (the sampler sees ids only).
    func samplingOptions(seed: UInt64, newlineTokens: Set<Int>, stopTokens: Set<Int>, maxResponseTokens budget: Int? = nil) throws -> TreeSamplingOptions {
        TreeSamplingOptions(
            shape: try shape(maxResponseTokens: budget), newlineTokens: newlineTokens,
            sampler: SamplerChain(temperature: temperature, topK: topK, topP: topP), seed: seed, stopTokens: stopTokens)
    }
}

extension StepBoundary.Kind: ExpressibleByArgument {}
