import Foundation
import ModelIO
import Sampling
import Testing
@testable import TreeRPO

/// A policy small enough to work the diagnostic out by hand: one question, a softmax over two
/// tokens whose parameters are the logits z = (ln 3, 0), so p = (3/4, 1/4), the same at every
/// position. Token 0 is the right answer (reward 1), token 1 the wrong one (reward 0); every
/// answer is one token long. Its draws are scripted, not random, so that the outcomes occur in
/// exactly their probabilities:
/// - two-answer batches (TreeRPO's depth-1, 2-leaf tree and GRPO's group of 2) cycle through 16
///   pairs: 9 x (0, 0) (p 9/16), 1 x (1, 1) (1/16), 3 x (0, 1) and 3 x (1, 0) (6/16 together);
/// - four-answer batches (the reference's groups) are always (0, 0, 0, 1).
/// Gradients go through the real loss (`PolicyLoss`): every logits row is z, so d loss / d z is
/// the sum of d loss / d logits over the rows.
final class TwoTokenSoftmaxPolicy: DiagnosedPolicy {
    static let logits: [Float] = [Float(Foundation.log(3.0)), 0]
    static let pairs: [(Int, Int)] = Array(repeating: (0, 0), count: 9) + [(1, 1)]
        + Array(repeating: (0, 1), count: 3) + Array(repeating: (1, 0), count: 3)
    private var pairsDrawn = 0
    /// Every seed asked for, in order.
    private(set) var seeds: [UInt64] = []

    var parameterCount: Int { 2 }

    func sampleScoredTrees(shape: TreeShape, seed: UInt64) throws -> [RolloutTree] {
        seeds.append(seed)
        #expect(shape.depth == 1, "every shape of this test is one level of complete answers, got depth \(shape.depth)")
        let answers: [Int]
        switch shape.branching.reduce(1, *) {
        case 2:
            let pair = Self.pairs[pairsDrawn % Self.pairs.count]
            pairsDrawn += 1
            answers = [pair.0, pair.1]
        case 4:
            answers = [0, 0, 0, 1]
        case let n:
            throw GradientDiagnosticError("the two-token policy scripts batches of 2 or 4 answers, asked for \(n)")
        }
        var tree = RolloutTree(question: "q", reference: "0", promptTokens: [0])
        for token in answers {
            let logProb = token == 0 ? Float(Foundation.log(0.75)) : Float(Foundation.log(0.25))
            tree.addChild(of: 0, tokens: [token], logProbs: [logProb], finishReason: .eos, reward: token == 0 ? 1 : 0)
        }
        return [tree]
    }

    func withLossGradient<T>(of sequences: [PackedSequence], _ body: (UnsafeBufferPointer<Float>) throws -> T) throws -> T {
        var gradient: [Float] = [0, 0]
        for s in sequences {
            var rows = (0..<s.count).flatMap { _ in Self.logits }
            var tokens = s.lossTokens.map {
                LossToken(row: $0.row, token: $0.token, advantage: $0.advantage, oldLogProb: 0, weight: $0.weight)
            }
            let old = PolicyLoss.logProbs(logits: rows, vocab: 2, tokens: tokens)
            for i in tokens.indices { tokens[i].oldLogProb = old[i] }
            rows.withUnsafeMutableBufferPointer {
                _ = PolicyLoss.lossAndGradient(logits: $0.baseAddress!, rows: s.count, vocab: 2, tokens: tokens, settings: PolicyLossSettings())
            }
            for r in 0..<s.count {
                gradient[0] += rows[2 * r]
                gradient[1] += rows[2 * r + 1]
            }
        }
        return try gradient.withUnsafeBufferPointer(body)
    }
}

@Suite struct GradientDiagnosticTests {
    func expectNear(_ x: Double?, _ y: Double, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        guard let x else {
            Issue.record("\(what): nil, expected \(y)", sourceLocation: sourceLocation)
            return
        }
        #expect(abs(x - y) <= 1e-5 * max(1, abs(y)), "\(what): \(x), expected \(y)", sourceLocation: sourceLocation)
    }

    /// The diagnostic on `TwoTokenSoftmaxPolicy`, worked by hand.
    ///
    /// True gradient. J = p0, dJ/dz = p0 (e0 - p) = (3/4)(1/4, -1/4) = (3/16, -3/16); the loss is
    /// -J, so d loss / dz = (-3/16, 3/16).
    ///
    /// Reference: 8 answers per question in 2 groups of 4, each (0, 0, 0, 1), rewards (1, 1, 1, 0),
    /// mean 3/4, advantages r - 3/4 = (1/4, 1/4, 1/4, -3/4), token-mean weights 1/4. With
    /// d log p_t / dz = e_t - p: d loss / dz = -(1/4)[(3/4)(e0 - p) - (3/4)(e1 - p)]
    /// = -(3/16)(e0 - e1) = (-3/16, 3/16), the true gradient exactly. Both halves are equal:
    /// cosine 1, estimated cosine to the truth sqrt(2 / 2) = 1; norm (3/16) sqrt 2; accuracy 3/4;
    /// 8 tokens sampled. u = (-1, 1) / sqrt 2.
    ///
    /// Estimates, two answers each (2 tokens):
    /// - (0, 0) or (1, 1): both rewards equal, every advantage 0 (tau 0 keeps the group), gradient
    ///   0: signal 0, cosine 0. 10 of 16.
    /// - (0, 1) or (1, 0): values 1 and 0, centred +-1/2. Advantage A = +-1/2 with no std;
    ///   with group std (sample std sqrt(1/2), + 1e-4) A = +-a, a = (1/2) / (sqrt(1/2) + 1e-4); tree
    ///   std (the tree's non-root values are the same two) and batch std (one group, centred
    ///   values +-1/2) give the same a. Token-mean weights 1/2: d loss / dz = -(1/2)[A(e0 - p)
    ///   - A(e1 - p)] = (-A/2, A/2), parallel to the reference: signal A / sqrt 2, cosine 1. 6 of 16.
    /// So with c = A / sqrt 2 the signals are 6 x c and 10 x 0: m = 3c/8,
    /// v = c^2 * 6 * 10 / (16 * 15) = c^2 / 4, m^2 / v = 9/16, SNR = 9/16 - 1/16 = 1/2 for every
    /// estimator (the ratio does not see the advantage's scale). Jackknife: without a c, 5 of 15:
    /// SNR 5*14/(15*10) - 1/15 = 2/5; without a 0, 6 of 15: 6*14/(15*9) - 1/15 = 5/9; mean 179/360,
    /// deviations -7/72 (6 times) and 7/120 (10 times), s.e. = sqrt(15/16 * (6 * 49/5184 +
    /// 10 * 49/14400)) = 7/24. Per 1k tokens: 1000 * (1/2) / 2 = 250 +- 1000 * (7/24) / 2.
    /// Mean cosine 6/16 = 3/8. Mean signal 3c/8: (3/8) a / sqrt 2 with a std, (3/8)(1/2) / sqrt 2 without.
    @Test func twoLeavesWithKnownRewardsGiveTheNumbersWorkedByHand() throws {
        var settings = GradientDiagnosticSettings()
        settings.tree = TreeShape(depth: 1, branching: [2], stepTokens: 1, maxResponseTokens: 1)
        settings.groupSize = 2
        settings.estimates = 16
        settings.referenceSamples = 8
        settings.referenceGroupSize = 4
        let policy = TwoTokenSoftmaxPolicy()
        let result = try GradientDiagnostic.run(policy: policy, settings: settings)

        let ref = result.reference
        #expect(ref.groups == 2 && ref.answersPerQuestion == 8 && ref.tokensSampled == 8)
        expectNear(ref.meanReward, 0.75, "reference accuracy")
        expectNear(ref.halvesCosine, 1, "cosine between the halves")
        expectNear(ref.estimatedCosineToTrueGradient, 1, "estimated cosine to the true gradient")
        expectNear(ref.norm, 3.0 / 16 * 2.0.squareRoot(), "reference norm")
        #expect(result.questions == 1 && result.parameters == 2)

        #expect(result.estimators.map(\.name) == ["TreeRPO, group std", "TreeRPO, no std", "TreeRPO, tree std", "TreeRPO, batch std",
                                                  "GRPO, group std", "GRPO, no std"])
        let a = 0.5 / (0.5.squareRoot() + 1e-4)
        for row in result.estimators {
            let A = row.estimator.normalization == .none ? 0.5 : a
            let c = A / 2.0.squareRoot()
            #expect(row.tokens == Array(repeating: 2, count: 16), "\(row.name): tokens \(row.tokens)")
            #expect(row.signals.filter { $0 == 0 }.count == 10, "\(row.name): signals \(row.signals)")
            expectNear(row.snr.meanSignal, 3 * c / 8, "\(row.name): mean signal")
            expectNear(row.snr.signalVariance, c * c / 4, "\(row.name): variance")
            expectNear(row.snr.snrUncorrected, 9.0 / 16, "\(row.name): m^2 / v")
            expectNear(row.snr.snr, 0.5, "\(row.name): SNR")
            expectNear(row.snr.snrStandardError, 7.0 / 24, "\(row.name): jackknife s.e.")
            expectNear(row.snr.snrPerThousandTokens, 250, "\(row.name): SNR per 1k tokens")
            expectNear(row.snr.snrPerThousandTokensStandardError, 1000 * 7.0 / 24 / 2, "\(row.name): its s.e.")
            expectNear(row.snr.meanCosine, 3.0 / 8, "\(row.name): mean cosine")
        }
        // 2 reference groups, then 16 draws for the trees and 16 for GRPO's groups: all different seeds.
        #expect(policy.seeds.count == 34 && Set(policy.seeds).count == 34, "seeds: \(policy.seeds)")
    }

    /// The diagnostic's gradient (one forward per sequence, pi_old read from its own logits)
    /// equals the trainer's (old log-probabilities from a separate forward, then forward, loss and
    /// backward) bit for bit on the bundled model, and it changes no weight.
    @Test func gradientAtCurrentWeightsEqualsTheTrainersGradient() throws {
        let root = try BundledModel.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let loaded = try WorkspaceModel.load(try BundledModel.workspace(in: root))
        // Two trees, each its own sequence, so accumulation is exercised too.
        let sequences = try HandMadeTrees.sequences()
        let weights = BundledModel.bits(loaded.parameters)

        let trainers = PolicyGradient(model: loaded.model, reference: nil)
        let summary = try trainers.accumulate(sequences, lossTokens: try trainers.lossTokens(sequences), settings: PolicyLossSettings())
        let diagnostics = PolicyGradient(model: loaded.model, reference: nil)
        let same = try diagnostics.atCurrentWeights(sequences, settings: PolicyLossSettings())
        #expect(BundledModel.bits(diagnostics.gradients) == BundledModel.bits(trainers.gradients))
        #expect(BundledModel.bits(trainers.gradients).contains { $0 != 0 }, "the gradient is zero")
        #expect(summary.loss == same.loss && summary.clipFraction == 0 && same.clipFraction == 0)
        #expect(BundledModel.bits(loaded.parameters) == weights, "computing a gradient changed the weights")
    }

    /// A reference whose answers all agree has no direction: refused in words, before any estimator runs.
    @Test func aReferenceWithoutSignalIsRefused() throws {
        final class AlwaysRight: DiagnosedPolicy {
            var parameterCount: Int { 2 }
            func sampleScoredTrees(shape: TreeShape, seed: UInt64) throws -> [RolloutTree] {
                var tree = RolloutTree(question: "q", reference: "0", promptTokens: [0])
                for _ in 0..<shape.branching.reduce(1, *) { tree.addChild(of: 0, tokens: [0], logProbs: [0], finishReason: .eos, reward: 1) }
                return [tree]
            }
            func withLossGradient<T>(of sequences: [PackedSequence], _ body: (UnsafeBufferPointer<Float>) throws -> T) throws -> T {
                try [Float(0), 0].withUnsafeBufferPointer(body)
            }
        }
        var settings = GradientDiagnosticSettings()
        settings.referenceSamples = 32
        #expect { _ = try GradientDiagnostic.run(policy: AlwaysRight(), settings: settings) } throws: {
            "\($0)".contains("the reference gradient is zero")
        }
        settings.estimates = 2
        #expect { _ = try GradientDiagnostic.run(policy: AlwaysRight(), settings: settings) } throws: {
            "\($0)".contains("estimates must be at least 3")
        }
    }
}
