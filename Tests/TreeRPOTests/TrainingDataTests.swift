import Foundation
import Testing
@testable import TreeRPO

@Suite struct TrainingDataTests {
    @Test func heldOutQuestionsAreNeverTrainedOn() throws {
        let data = try TrainingData.arithmetic(ArithmeticTask(), seed: 0, evalSeed: 1_000_003, heldOutCount: 64)
        #expect(data.heldOut.count == 64)
        #expect(Set(data.train.map(\.question)).isDisjoint(with: data.heldOut.map(\.question)))
    }

    @Test func orderDependsOnSeedAndStepOnly() throws {
        let data = try TrainingData.arithmetic(ArithmeticTask(steps: 2...2), seed: 3, evalSeed: 4, heldOutCount: 4)
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
        // Six panels, each with one line per run.
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 12)
        #expect(svg.contains("held-out Pass@1") && svg.contains("sampled tokens"))
    }

    @Test func ticksCoverTheRange() {
        let t = RunReport.niceTicks(0, 0.73)
        #expect(t.first! <= 0 && t.last! >= 0.73 && t.count >= 3 && t.count <= 9)
        let big = RunReport.niceTicks(0, 123_456)
        #expect(big.last! >= 123_456 && big.count <= 9)
    }
}
