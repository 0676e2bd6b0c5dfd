/// The shape of a run's trees: the one description of depth, branching, step length and step
/// boundary that `treerpo sample`, `treerpo finetune`, a run's saved `TrainingConfig` and the
/// sampler (`TreeSamplingOptions.shape`) share, with its defaults defined here only.
///
/// Codable under the field names a run's `config.json` has always used (`depth`, `branching`,
/// `stepTokens`, `stepBoundary` as "tokens" or "newline", `minStepTokens`, `lastLevelRunsToEnd`,
/// `maxResponseTokens`), so the shape of any saved run decodes from its config.
public struct TreeShape: Codable, Equatable, Sendable {
    public static let defaultDepth = 3
    /// Children per node at every level.
    public static let defaultBranching = 2
    /// L: the step length in tokens.
    public static let defaultStepTokens = 16
    /// With the newline boundary: fewest tokens before a newline may end a step.
    public static let defaultMinStepTokens = 4
    public static let defaultMaxResponseTokens = 256

    /// D: depth of the deepest steps (1 = one level of complete answers, GRPO).
    public var depth: Int
    /// N_d: children of each node at depth d - 1, `[depth]` (root first).
    public var branching: [Int]
    /// L: tokens per step (with the newline boundary, the most a step may hold).
    public var stepTokens: Int
    /// Where a step ends: every `stepTokens` tokens, or at a newline (see `boundary`).
    public var stepBoundary: StepBoundary.Kind
    /// With the newline boundary: a step ends at the first newline at or after this many
    /// tokens. Kept (and saved) with the tokens boundary too, where it is not read.
    public var minStepTokens: Int
    /// Depth-D nodes run on to EOS or the budget (true), or are cut after one step with
    /// finish reason `.depth` (false).
    public var lastLevelRunsToEnd: Bool
    /// Most response tokens on any root-to-leaf path (prompt excluded).
    public var maxResponseTokens: Int

    /// A one-element `branching` is used at every level (`[2]` with depth 3 is `[2, 2, 2]`).
    public init(
        depth: Int = defaultDepth, branching: [Int] = [defaultBranching], stepTokens: Int = defaultStepTokens,
        stepBoundary: StepBoundary.Kind = .tokens, minStepTokens: Int = defaultMinStepTokens,
        lastLevelRunsToEnd: Bool = true, maxResponseTokens: Int = defaultMaxResponseTokens
    ) {
        self.depth = depth
        self.branching = branching.count == 1 && depth > 1 ? Array(repeating: branching[0], count: depth) : branching
        self.stepTokens = stepTokens
        self.stepBoundary = stepBoundary
        self.minStepTokens = minStepTokens
        self.lastLevelRunsToEnd = lastLevelRunsToEnd
        self.maxResponseTokens = maxResponseTokens
    }

    /// The most response tokens that fit after a prompt of `promptLength` tokens in a model of
    /// `positions`: `maxResponseTokens`, or less when the model's context runs out first; nil
    /// when `maxResponseTokens` fits or nothing does (the sampler then refuses with the numbers).
    public func responseTokensFitting(promptLength: Int, positions: Int) -> Int? {
        let room = positions - promptLength
        return room < maxResponseTokens && room >= 1 ? room : nil
    }

    /// The step boundary as the sampler reads it; setting it sets `stepBoundary` and, for the
    /// newline boundary, `minStepTokens`.
    public var boundary: StepBoundary {
        get { stepBoundary == .tokens ? .tokens : .newline(minTokens: minStepTokens) }
        set {
            stepBoundary = newValue.kind
            if case .newline(let m) = newValue { minStepTokens = m }
        }
    }
}

extension StepBoundary {
    /// The boundary by name, as configs and command lines write it ("tokens", "newline"); the
    /// newline boundary's fewest tokens are `TreeShape.minStepTokens`.
    public enum Kind: String, Codable, CaseIterable, Sendable {
        case tokens, newline
    }

    public var kind: Kind {
        switch self {
        case .tokens: .tokens
        case .newline: .newline
        }
    }
}
