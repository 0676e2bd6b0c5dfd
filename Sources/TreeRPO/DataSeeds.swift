/// The seeds of the built-in arithmetic task's question sets, one per use, so that no question
/// serves two purposes. Fine-tuning questions do not depend on the run's `--seed` (which only
/// orders them and drives sampling), so runs that differ in seed train on the same pool.
///
/// | use | seed | where |
/// |---|---|---|
/// | bundled model's pretraining corpus | 1 | `tools/make_bundled_model.py --train-seed`, first 25,600 trained on |
/// | bundled model's own held-out check | 2 | `tools/make_bundled_model.py --eval-seed` |
/// | fine-tuning questions | 3 | `TrainingConfig.dataSeed`, `finetune --data-seed` |
/// | held-out evaluation | 1,000,003 | `TrainingConfig.evalSeed` |
///
/// Held-out questions drop any question of the training pool or of the pretraining corpus, and
/// the training pool drops any question of the pretraining corpus (`TrainingData.arithmetic`).
public enum DataSeeds {
    /// `treerpo data arithmetic --seed 1`: the corpus the bundled model was pretrained on.
    public static let pretraining: UInt64 = 1
    /// How many problems of that corpus the bundled model trained on (MODEL.md: 800 steps of 32).
    public static let pretrainingProblemsSeen = 25_600
    /// The bundled model's own held-out questions (MODEL.md "Measured").
    public static let pretrainingHeldOut: UInt64 = 2
    /// Fine-tuning questions of the built-in task.
    public static let training: UInt64 = 3
    /// Held-out evaluation questions of the built-in task (also the held-out sampling seed).
    public static let heldOut: UInt64 = 1_000_003

    /// The questions the bundled model was pretrained on (the task's default difficulty; a run at
    /// another difficulty is filtered against them all the same, at the cost of generating them).
    public static func pretrainingQuestions() throws -> Set<String> {
        Set(try ArithmeticTask().generate(count: pretrainingProblemsSeen, seed: pretraining).map(\.question))
    }
}
