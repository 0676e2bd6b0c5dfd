import Foundation
import Testing
@testable import TreeRPO

@Suite struct TrainingDataTests {
    @Test func heldOutQuestionsAreNeverTrainedOn() throws {
        let data = try TrainingData.arithmetic(ArithmeticTask(), dataSeed: DataSeeds.training, evalSeed: DataSeeds.heldOut, heldOutCount: 64)
        #expect(data.heldOut.count == 64)
        #expect(Set(data.train.map(\.question)).isDisjoint(with: data.heldOut.map(\.question)))
    }

    @Test func orderDependsOnSeedAndStepOnly() throws {
        let data = try TrainingData.arithmetic(ArithmeticTask(steps: 2...2), dataSeed: 3, evalSeed: 4, heldOutCount: 4)
        let a = (0..<5).map { data.indices(step: $0, promptsPerStep: 3, seed: 3) }
        let b = (0..<5).map { data.indices(step: $0, promptsPerStep: 3, seed: 3) }
        #expect(a == b)
        #expect(a != (0..<5).map { data.indices(step: $0, promptsPerStep: 3, seed: 4) })
        // One epoch visits every problem once.
        let small = TrainingData(train: (0..<10).map { Problem(question: "q\($0)", solution: "\($0)") }, heldOut: [],
                                 template: .plain, source: "test")
        let epoch = (0..<5).flatMap { small.indices(step: $0, promptsPerStep: 2, seed: 9) }
        #expect(epoch.sorted() == Array(0..<10))
    }
}

@Suite struct EvaluationMathTests {
    /// 1 - C(n-c, k) / C(n, k), by hand: n=5, c=2, k=2: 1 - C(3,2)/C(5,2) = 1 - 3/10.
    @Test func passAtKIsTheUnbiasedEstimator() {
        #expect(abs(Evaluation.passAtK(n: 5, c: 2, k: 2) - 0.7) < 1e-12)
        #expect(abs(Evaluation.passAtK(n: 5, c: 2, k: 1) - 0.4) < 1e-12)
        #expect(Evaluation.passAtK(n: 8, c: 0, k: 8) == 0)
        #expect(Evaluation.passAtK(n: 8, c: 1, k: 8) == 1)
        // n=10, c=3, k=4: 1 - C(7,4)/C(10,4) = 1 - 35/210.
        #expect(abs(Evaluation.passAtK(n: 10, c: 3, k: 4) - (1 - 35.0 / 210)) < 1e-12)
    }

    /// Format compliance counts every sample that states a final answer, right or wrong, and
    /// only those: 5 of 8 here (two questions x four samples, worked by hand).
    @Test func answeredCountsMarkedAnswersRightOrWrong() {
        let responses = [
            ["The answer is 4.", "2 + 2 = 4", "\\boxed{5}", "#### 4"],    // 3 marked (2 right), 1 bare number
            ["it is 9", "The answer is 9.", "The answer is 8", ""],      // 2 marked (1 right)
        ]
        let r = Evaluation.score(responses: responses, references: ["4", "9"], responseTokens: 40)
        #expect(r.answered == 5.0 / 8)
        #expect(r.pass1 == 3.0 / 8)
        #expect(r.correctPerQuestion == [2, 1])
        #expect(r.majK == 1.0)          // question 1: 4 has two votes against 5's one; question 2: 9 and 8 tie, 9 first
        #expect(r.meanResponseTokens == 5)
        #expect(r.passK == 1.0)
    }

    @Test func majorityVotesOnNormalisedNumbers() {
        let votes = ["The answer is 4.", "The answer is 4.0.", "The answer is 5.", "no answer", "The answer is 5"]
        #expect(Evaluation.majorityAnswer(votes).map { NumberMatching.equivalent($0, "4") } == true)
        #expect(Evaluation.majorityAnswer(["nothing here"]) == nil)
        // A tie goes to the answer seen first.
        #expect(Evaluation.majorityAnswer(["The answer is 7.", "The answer is 3."]).map { NumberMatching.equivalent($0, "7") } == true)
    }
}

@Suite struct RunReportTests {
    @Test func drawsEveryRunAndPanel() {
        func metrics(_ steps: Int, reward: Double) -> [StepMetrics] {
            (0..<steps).map { s in
                var m = StepMetrics(step: s)
                m.rewardMean = reward + Double(s) * 0.01
                m.tokensSampledTotal = (s + 1) * 1000
                m.meanResponseTokens = 40
                if s % 2 == 1 {
                    m.eval = EvaluationResult(pass1: 0.3, passK: 0.6, majK: 0.4, k: 4, meanResponseTokens: 40, questions: 8)
                }
                return m
            }
        }
        let svg = RunReport.svg([.init(name: "grpo <seed 0>", metrics: metrics(6, reward: 0.2)),
                                 .init(name: "treerpo", metrics: metrics(6, reward: 0.3))])
        #expect(svg.hasPrefix("<svg"))
        #expect(svg.contains("grpo &lt;seed 0&gt;"))
        // Six panels. Reward and length have 6 points per run: raw and smoothed lines (4 per
        // panel); held-out Pass@1 has 3 points per run: one line each (2 per panel).
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 4 * 4 + 2 * 2)
        #expect(svg.contains("held-out Pass@1") && svg.contains("sampled tokens"))
        #expect(!svg.contains("no data"))
    }

    /// Runs that never evaluated get no held-out panel (it would be empty).
    @Test func noEmptyHeldOutPanel() {
        let m = (0..<3).map { s -> StepMetrics in
            var x = StepMetrics(step: s)
            x.rewardMean = 0.5
            x.tokensSampledTotal = (s + 1) * 100
            return x
        }
        let svg = RunReport.svg([.init(name: "r", metrics: m)])
        #expect(!svg.contains("held-out Pass@1") && !svg.contains("no data"))
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 4)
    }

    /// Window 3 centred; the ends average only what lies on both sides equally (themselves).
    @Test func movingAverageByHand() {
        #expect(RunReport.movingAverage([0, 3, 0, 3, 6], window: 3) == [0, 1, 2, 3, 6])
        #expect(RunReport.smoothingWindow(4) == 1 && RunReport.smoothingWindow(12) == 3 && RunReport.smoothingWindow(300) == 31)
    }

    @Test func ticksCoverTheRange() {
        let t = RunReport.niceTicks(0, 0.73)
        #expect(t.first! <= 0 && t.last! >= 0.73 && t.count >= 3 && t.count <= 9)
        let big = RunReport.niceTicks(0, 123_456)
        #expect(big.last! >= 123_456 && big.count <= 9)
    }
}

@Suite struct EvaluationUncertaintyTests {
    /// Three questions, two samples each. Before: 0, 1, 2 correct; after: 1, 1, 2.
    /// Sampling noise before: only question 2 varies, c(k-c)/(k^2 (k-1)) = 1/4, over 3^2
    /// questions: variance 1/36, standard error 1/6.
    /// Change per question: 1/2, 0, 0; mean 1/6; sample variance ((1/3)^2 + 2 (1/6)^2) / 2 =
    /// 1/12; standard error sqrt(1/12 / 3) = 1/6.
    @Test func handWorkedStandardErrors() throws {
        #expect(abs(Evaluation.pass1SamplingStandardError(correct: [0, 1, 2], k: 2)! - 1.0 / 6) < 1e-12)
        #expect(Evaluation.pass1SamplingStandardError(correct: [0, 1, 2], k: 1) == nil)
        func result(_ c: [Int]) -> EvaluationResult {
            EvaluationResult(pass1: Double(c.reduce(0, +)) / 6, passK: 0, majK: 0, k: 2, meanResponseTokens: 0, questions: 3,
                             correctPerQuestion: c)
        }
        let comparison = try EvaluationComparison(before: result([0, 1, 2]), after: result([1, 1, 2]))
        #expect(abs(comparison.pass1Change - 1.0 / 6) < 1e-12)
        #expect(abs(comparison.pass1ChangeStandardError - 1.0 / 6) < 1e-12)
        #expect(abs(comparison.pass1ChangeHigh - (1.0 / 6 + 1.96 / 6)) < 1e-12)
        #expect(throws: EvaluationError.self) { _ = try EvaluationComparison(before: result([0, 1, 2]), after: result([1, 1])) }
    }
}
