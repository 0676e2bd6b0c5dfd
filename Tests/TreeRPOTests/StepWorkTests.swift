import Foundation
import Benchmarks
import Sampling
import Testing
import Transformer
@testable import TreeRPO

/// The FLOP counts of a finetune step (`StepWork`, metrics' flops_sampling and flops_training)
/// on the hand-made tree of `HandMadeTrees`, counted by hand; the tiny Qwen2 shape.
@Suite struct StepWorkTests {
    /// Prompt [5, 6, 7]: 3 rows, logits for the last, 1 + 2 + 3 = 6 pairs. Inner steps fed whole:
    /// a at positions 3-5 (4 + 5 + 6 keys), b at 3-4 (4 + 5). Leaves fed but their last token:
    /// [13, 14] feeds 13 at position 6 (7 keys), [16, 17, 18] feeds 16 and 17 at 5 and 6 (6 + 7),
    /// [15] and [19] feed nothing. Rows 3 + 3 + 2 + 1 + 2 = 11 (prompt + 12 step tokens - 4 leaf
    /// ends), logits rows 1 + 3 + 2 + 1 + 2 = 9, pairs 6 + 15 + 9 + 7 + 13 = 50.
    @Test func samplingFeedsEachTokenOnceButTheLeafEnds() throws {
        let c = try TrainBenchmark.tinyConfig()
        let tree = HandMadeTrees.tree()
        let one = StepFlops.forward(c, tokens: 11, logitRows: 9, pairs: 50)
        #expect(StepWork.samplingFlops([tree], config: c) == one)
        #expect(StepWork.samplingFlops([tree, tree], config: c) == 2 * one)
        #expect(StepWork.samplingFlops([], config: c) == 0)
    }

    /// The packed tree holds all 15 tokens at path positions; a row sees its path (walked here
    /// through the predecessors, independently of the positions): prompt 1 + 2 + 3, a 4 + 5 + 6,
    /// its leaves 7 + 8 and 7, b 4 + 5, its leaves 6 + 7 + 8 and 6: 79 pairs.
    @Test func trainingCountsEveryRowsPathPerEpoch() throws {
        let c = try TrainBenchmark.tinyConfig()
        let sequences = try HandMadeTrees.sequences(count: 1)
        let s = sequences[0]
        #expect(s.count == 15)
        var walked = 0
        for row in 0..<s.count {
            var k = row
            while k >= 0 { walked += 1; k = s.predecessors[k] }
        }
        #expect(walked == 79)
        let forward = StepFlops.forward(c, tokens: 15, logitRows: s.lossTokens.count, pairs: 79)
        #expect(StepWork.trainingFlops(sequences, config: c, epochs: 1, referenceModel: false) == 3 * forward)
        // Two PPO epochs and a reference model's forward (beta > 0).
        #expect(StepWork.trainingFlops(sequences, config: c, epochs: 2, referenceModel: true) == 7 * forward)
        #expect(StepWork.trainingFlops([], config: c, epochs: 1, referenceModel: false) == 0)
    }

    /// Metrics lines written before the counts existed still read (the counts are absent).
    @Test func metricsWithoutFlopsStillRead() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("stepwork-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: url) }
        var line = try StepMetrics(step: 3).jsonLine()
        #expect(!line.contains("flops"))
        var counted = StepMetrics(step: 4)
        counted.flopsSampling = 1e9
        counted.flopsTraining = 3e9
        line += "\n" + (try counted.jsonLine()) + "\n"
        try Data(line.utf8).write(to: url)
        let read = try StepMetrics.read(url)
        #expect(read.map(\.step) == [3, 4])
        #expect(read[0].flopsSampling == nil && read[1].flopsSampling == 1e9 && read[1].flopsTraining == 3e9)
    }
}
