/// How many workers `Trainer` deals a step's independent pieces out to, each on its own thread
/// with single-threaded kernels (`Compute.dataParallel`): the sampling shards
/// (`TreeSampler.sample(workers:)`) and the update's micro-batches (`PolicyGradient.workers`).
///
/// Only a small model gains from it: its matrix products are too small to split well over
/// OpenBLAS's threads, so two independent pieces on two cores beat one piece on both
/// (docs/speed.md). A 135M model's products keep both threads busy, and there the pieces cost:
/// - sampling in two shards runs two 32-row decode products, each streaming the whole weight
///   on one core; one 64-row product on both threads sampled a SmolLM2 GRPO step in 0.88x the
///   time (a TreeRPO step: no clear difference; docs/bench-step.md, session 17);
/// - every extra update worker holds a whole gradient buffer and activations of its own
///   (SmolLM2-135M: 540 MB and about 0.7 GB for one 570-token sequence).
enum DataParallelWorkers {
    /// Most parameters for which `count(threads:parameters:)` gives one worker per thread.
    static let parameterLimit = 32_000_000

    /// One worker per thread for a model of at most `parameterLimit` parameters, else one.
    static func count(threads: Int, parameters: Int) -> Int {
        parameters <= parameterLimit ? max(1, threads) : 1
    }
}
