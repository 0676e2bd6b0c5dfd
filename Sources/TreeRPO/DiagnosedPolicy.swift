import Foundation
import Sampling

/// What the gradient diagnostic (`GradientDiagnostic`) needs of a policy: trees sampled from it
/// on a fixed set of questions with every leaf scored, and the gradient of its policy loss at
/// its current weights. `LanguageModelPolicy` is the workspace's model; a test can supply a
/// policy small enough to work out by hand.
public protocol DiagnosedPolicy: AnyObject {
    /// The length of every gradient.
    var parameterCount: Int { get }
    /// One tree per question of the fixed set, of shape `shape`, drawn with `seed` (the same seed
    /// gives the same trees), every leaf's reward set.
    func sampleScoredTrees(shape: TreeShape, seed: UInt64) throws -> [RolloutTree]
    /// Calls `body` with d loss / d parameters, `[parameterCount]`, of the policy loss over
    /// `sequences` at the current weights, with pi_old the current policy (every ratio 1, no clip)
    /// and no KL term: the plain policy gradient -sum_t w_t A_t grad log pi(t), negated as a loss.
    /// No sequences: a zero gradient. The buffer is valid only inside `body`; the weights do not change.
    func withLossGradient<T>(of sequences: [PackedSequence], _ body: (UnsafeBufferPointer<Float>) throws -> T) throws -> T
}
