import Transformer
/// Where a step of a tree node ends (docs/method.md "Tree sampling"); `TreeShape` holds it as
/// `stepBoundary` (its `Kind`) and `minStepTokens`.
public enum StepBoundary: Sendable, Equatable {
    /// Every step is `stepTokens` tokens (the paper's choice).
    case tokens
    /// A step ends with the first newline token at or after its `minTokens`-th token, and at
    /// `stepTokens` tokens at the latest (so a text without newlines still branches).
    case newline(minTokens: Int)
}

/// The shape of the trees and how their tokens are drawn.
public struct TreeSamplingOptions: Sendable {
    /// Depth, branching, step length and boundary, response budget.
    public var shape: TreeShape
    /// Ids whose text contains a newline; the caller supplies them (Sampling never sees text).
    public var newlineTokens: Set<Int>
    public var sampler: SamplerChain
    public var seed: UInt64
    /// End-of-sequence ids: a step ends with one (kept) and its node is a leaf.
    public var stopTokens: Set<Int>

    public init(shape: TreeShape, newlineTokens: Set<Int> = [], sampler: SamplerChain = SamplerChain(), seed: UInt64 = 0,
                stopTokens: Set<Int> = []) {
        self.shape = shape
        self.newlineTokens = newlineTokens
        self.sampler = sampler
        self.seed = seed
        self.stopTokens = stopTokens
    }

    /// The shape's fields one by one; the defaults are `TreeShape`'s. A one-element `branching`
    /// is used at every level (`[2]` with depth 3 is `[2, 2, 2]`).
    public init(
        depth: Int = TreeShape.defaultDepth, branching: [Int] = [TreeShape.defaultBranching],
        stepTokens: Int = TreeShape.defaultStepTokens, stepBoundary: StepBoundary = .tokens,
        newlineTokens: Set<Int> = [], lastLevelRunsToEnd: Bool = true, maxResponseTokens: Int = TreeShape.defaultMaxResponseTokens,
        sampler: SamplerChain = SamplerChain(), seed: UInt64 = 0, stopTokens: Set<Int> = []
    ) {
        var shape = TreeShape(depth: depth, branching: branching, stepTokens: stepTokens,
                              lastLevelRunsToEnd: lastLevelRunsToEnd, maxResponseTokens: maxResponseTokens)
        shape.boundary = stepBoundary
        self.init(shape: shape, newlineTokens: newlineTokens, sampler: sampler, seed: seed, stopTokens: stopTokens)
    }

    /// D: depth of the deepest steps (1 = one level of complete answers, GRPO).
    public var depth: Int {
        get { shape.depth }
        set { shape.depth = newValue }
    }
    /// N_d: children of each node at depth d - 1, `[depth]` (root first).
    public var branching: [Int] {
        get { shape.branching }
        set { shape.branching = newValue }
    }
    /// L: tokens per step (with `.newline`, the most a step may hold).
    public var stepTokens: Int {
        get { shape.stepTokens }
        set { shape.stepTokens = newValue }
    }
    public var stepBoundary: StepBoundary {
        get { shape.boundary }
        set { shape.boundary = newValue }
    }
    /// Depth-D nodes run on to EOS or the budget (true), or are cut after one step with
    /// finish reason `.depth` (false).
    public var lastLevelRunsToEnd: Bool {
        get { shape.lastLevelRunsToEnd }
        set { shape.lastLevelRunsToEnd = newValue }
    }
    /// Most response tokens on any root-to-leaf path (prompt excluded).
    public var maxResponseTokens: Int {
        get { shape.maxResponseTokens }
        set { shape.maxResponseTokens = newValue }
    }

    /// Refuses options the sampler cannot honour, naming the field.
    public func validate() throws {
        func fail(_ field: String, _ message: String) -> TreeSamplingError {
            TreeSamplingError("tree options: \(field): \(message)")
        }
        guard depth >= 1 else { throw fail("depth", "expected at least 1, found \(depth)") }
        guard branching.count == depth else {
            throw fail("branching", "expected one number per level (\(depth)), found \(branching.count): \(branching)")
        }
        if let bad = branching.first(where: { $0 < 1 }) { throw fail("branching", "expected every level at least 1, found \(bad)") }
        guard stepTokens >= 1 else { throw fail("stepTokens", "expected at least 1, found \(stepTokens)") }
        if case .newline(let m) = stepBoundary, !(1...stepTokens).contains(m) {
            throw fail("stepBoundary.minTokens", "expected 1...\(stepTokens) (the step length), found \(m)")
        }
        guard maxResponseTokens >= 1 else { throw fail("maxResponseTokens", "expected at least 1, found \(maxResponseTokens)") }
    }

    /// Fewest tokens of a step that ends by its boundary (not by EOS or the budget).
    var shortestFullStep: Int {
        shape.stepBoundary == .newline ? shape.minStepTokens : shape.stepTokens
    }

    /// True when a step of `count` tokens ending in `token` is complete.
    @inline(__always)
    func stepEnds(count: Int, token: Int) -> Bool {
        if count >= shape.stepTokens { return true }
        if shape.stepBoundary == .newline { return count >= shape.minStepTokens && newlineTokens.contains(token) }
        return false
    }

    /// Slots reserved for a node at `depth` whose ancestors' steps hold `pathBefore` tokens:
    /// its step can hold at most this many tokens.
    func blockCapacity(depth: Int, pathBefore: Int) -> Int {
        let remaining = maxResponseTokens - pathBefore
        return depth == self.depth && lastLevelRunsToEnd ? remaining : min(stepTokens, remaining)
    }
}

/// A sampling request that cannot be served, saying what was asked and what is available.
public struct TreeSamplingError: SettingError, CustomStringConvertible, Equatable {
    public let message: String
    /// The setting that would avoid it (the command line adds its flag).
    public let setting: Setting?
    public init(_ message: String, setting: Setting? = nil) {
        self.message = message
        self.setting = setting
    }
    public var description: String { "tree sampler: \(message)" }
}
