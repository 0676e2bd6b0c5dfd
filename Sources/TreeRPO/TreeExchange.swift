import Distributed
import Foundation
import Sampling

/// The trees of a data-parallel step (docs/mpi.md): each rank samples and scores a contiguous
/// share of the step's prompts, then every rank receives every share, in rank order, so all
/// ranks compute the same advantages and pack the same sequences.
enum TreeExchange {
    /// Prompts `0..<count` of a step split over `ranks`: rank r samples this contiguous share.
    /// The same split as the sampler's threads (`Compute.chunkRange`), so `ranks` processes of one
    /// thread sample the trees that one process of `ranks` threads does.
    static func share(rank: Int, of ranks: Int, count: Int) -> Range<Int> {
        let base = count / ranks, extra = count % ranks
        let lower = rank * base + min(rank, extra)
        return lower..<(lower + base + (rank < extra ? 1 : 0))
    }

    /// One rank's scored trees on the wire (JSON: rewards and log-probabilities survive exactly,
    /// Swift writes floats as their shortest round-trip form).
    private struct Share: Codable {
        var trees: [RolloutTree]
        var leaves: Int, correct: Int, responseTokens: Int
        var rewards: [Double]
        var lines: StepLineTally
    }

    /// Every rank's `trees` and their `scores`, joined in rank order: the trees of the whole step
    /// and their scores as if one process had scored them all.
    static func gather(_ trees: [RolloutTree], scores: LeafScores, over communicator: any Communicator) throws
        -> (trees: [RolloutTree], scores: LeafScores) {
        guard communicator.size > 1 else { return (trees, scores) }
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let mine = Share(trees: trees, leaves: scores.leaves, correct: scores.correct, responseTokens: scores.responseTokens,
                         rewards: scores.rewards, lines: scores.lines)
        var all: [RolloutTree] = [], joined = LeafScores()
        for (rank, bytes) in try communicator.allGather(Array(try encoder.encode(mine))).enumerated() {
            let share: Share
            do {
                share = try decoder.decode(Share.self, from: Data(bytes))
            } catch {
                throw CommunicatorError("rank \(rank) sent \(bytes.count) bytes that are not a share of trees (\(error)); are all ranks the same treerpo?")
            }
            all += share.trees
            joined.leaves += share.leaves
            joined.correct += share.correct
            joined.responseTokens += share.responseTokens
            joined.rewards += share.rewards
            joined.lines = joined.lines + share.lines
        }
        return (all, joined)
    }
}
