import Foundation
import Testing
@testable import TreeRPO

/// Fine-tuning and held-out questions never repeat the bundled model's pretraining corpus, and
/// the training pool does not depend on the run seed.
@Suite struct DataSeedsTests {
    @Test func everyUseHasItsOwnSeed() {
        let seeds = [DataSeeds.pretraining, DataSeeds.pretrainingHeldOut, DataSeeds.training, DataSeeds.heldOut]
        #expect(Set(seeds).count == seeds.count)
        #expect(TrainingConfig().dataSeed == DataSeeds.training && TrainingConfig().evalSeed == DataSeeds.heldOut)
    }

    /// The corpus the bundled model was pretrained on, as MODEL.md states it (`treerpo data
    /// arithmetic --seed 1`, the first 25,600 problems; spelt out here, not read from
    /// `DataSeeds`), shares no question with the default training pool or the first 1,000
    /// held-out questions. (The rest of the 200,000-line file the script writes was never
    /// trained on; the training pool does share some short problems with it, the held-out
    /// list does not.)
    @Test func noTrainingOrHeldOutQuestionIsInThePretrainingCorpus() throws {
        let corpus = Set(try ArithmeticTask().generate(count: 25_600, seed: 1).map(\.question))
        let data = try TrainingData.arithmetic(ArithmeticTask(), dataSeed: DataSeeds.training, evalSeed: DataSeeds.heldOut,
                                               heldOutCount: 1_000)
        #expect(data.train.count > 19_000)
        #expect(data.heldOut.count == 1_000)
        #expect(corpus.isDisjoint(with: data.train.map(\.question)))
        #expect(corpus.isDisjoint(with: data.heldOut.map(\.question)))
        #expect(Set(data.train.map(\.question)).isDisjoint(with: data.heldOut.map(\.question)))
        // The unfiltered pool of seed 3 does meet the corpus: the filter is what keeps them apart.
        let raw = try ArithmeticTask().generate(count: 20_000, seed: DataSeeds.training).map(\.question)
        #expect(raw.count - data.train.count == raw.filter(corpus.contains).count)
    }

    /// The filter acts: drawing the training pool from the pretraining seed leaves nothing (its
    /// 20,000 problems are the corpus's first 20,000), which is refused rather than trained on.
    @Test func trainingOnThePretrainingSeedIsRefused() throws {
        #expect(throws: TrainingError.self) {
            _ = try TrainingData.arithmetic(ArithmeticTask(), dataSeed: DataSeeds.pretraining, evalSeed: DataSeeds.heldOut,
                                            heldOutCount: 8)
        }
    }

    @Test func trainingPoolIsTheSameForEveryRunSeed() throws {
        var a = TrainingConfig(), b = TrainingConfig()
        a.seed = 0
        b.seed = 1
        // No workspace: no chat template, the plain prompt.
        let noBase = FileManager.default.temporaryDirectory.appendingPathComponent("treerpo-no-workspace-\(UUID().uuidString)")
        let da = try Trainer.loadData(a, base: noBase), db = try Trainer.loadData(b, base: noBase)
        #expect(da.train == db.train && da.heldOut == db.heldOut)
        // The run seed orders the pool.
        #expect(da.indices(step: 0, promptsPerStep: 8, seed: a.seed) != db.indices(step: 0, promptsPerStep: 8, seed: b.seed))
    }

    /// A larger held-out count extends the list without changing its start, so `eval
    /// --questions N` and a run's `--eval-questions M` measure the same first questions.
    @Test func heldOutListIsPrefixStable() throws {
        let small = try TrainingData.arithmetic(ArithmeticTask(), dataSeed: DataSeeds.training, evalSeed: DataSeeds.heldOut, heldOutCount: 100)
        let large = try TrainingData.arithmetic(ArithmeticTask(), dataSeed: DataSeeds.training, evalSeed: DataSeeds.heldOut, heldOutCount: 500)
        #expect(Array(large.heldOut.prefix(100)) == small.heldOut)
    }
}
