import Distributed
import Foundation
import Sampling
import Tensors
import Testing
@testable import TreeRPO

/// The pieces of a data-parallel step (docs/mpi.md) that do not need `mpirun`: the shares of a
/// step's prompts, and the merging of what the other ranks send (loss statistics, scored trees),
/// with a stand-in for one other rank. `tools/test_mpi.sh` runs the whole job under `mpirun`.
@Suite struct DistributedStepTests {
    /// Rank `rank` of `size` whose all-gather answers with `others` (the other ranks' bytes, in
    /// rank order, this rank's own left out) and records what this rank sent.
    final class OneOfSeveral: Communicator {
        let rank: Int, size: Int
        var others: [[UInt8]]
        var sent: [[UInt8]] = []
        init(rank: Int, size: Int, others: [[UInt8]]) {
            self.rank = rank
            self.size = size
            self.others = others
        }
        func allGather(_ bytes: [UInt8]) throws -> [[UInt8]] {
            sent.append(bytes)
            var all = others
            all.insert(bytes, at: rank)
            return all
        }
        func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int) throws {}
        func sumInRankOrder(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws {}
        func sumWithLibraryAllReduce(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws {}
        var traffic: Traffic { Traffic() }
        func abort(status: Int32) -> Never { fatalError("abort \(status)") }
        func finish() {}
    }

    /// Rank r samples the prompts thread r samples in one process: the premise of "R ranks of
    /// one thread compute what one process of R threads does".
    @Test func sharesAreTheThreadsShares() {
        for ranks in 1...5 {
            for count in 0...40 {
                let shares = (0..<ranks).map { TreeExchange.share(rank: $0, of: ranks, count: count) }
                #expect(shares == (0..<ranks).map { Compute.chunkRange($0, of: ranks, count: count) })
                #expect(shares.flatMap { Array($0) } == Array(0..<count))
            }
        }
    }

    /// FNV-1a 64-bit test vectors of its specification (the fingerprint ranks compare).
    @Test func digestIsFNV1a() {
        var a = Digest64()
        a.add(bytes: Array("a".utf8))
        #expect(a.value == 0xaf63_dc4c_8601_ec8c)
        var foobar = Digest64()
        foobar.add(bytes: Array("foobar".utf8))
        #expect(foobar.value == 0x8594_4171_f739_67e8)
    }

    /// Doubles summed in rank order, exactly ((x0 + x1) + x2) (not x0 + (x1 + x2)), and a rank
    /// with another count is an error.
    @Test func doublesSumInRankOrder() throws {
        let x0 = [1e16, 0.5], x1 = [1.0, 0.25], x2 = [1.0, -0.75]
        let bytes = { (v: [Double]) in v.withUnsafeBytes { Array($0) } }
        let sums = try OneOfSeveral(rank: 0, size: 3, others: [bytes(x1), bytes(x2)]).sumInRankOrder(x0)
        #expect(sums == [(x0[0] + x1[0]) + x2[0], (x0[1] + x1[1]) + x2[1]])
        #expect(sums[0] != x0[0] + (x1[0] + x2[0]))
        #expect(throws: CommunicatorError("rank 1 sent 1 Doubles to sum, this rank 2")) {
            try OneOfSeveral(rank: 0, size: 3, others: [bytes([1]), bytes(x2)]).sumInRankOrder(x0)
        }
    }

    typealias Statistics = PolicyGradient.SequenceStatistics

    static func statistics(_ i: Int) -> Statistics {
        Statistics(loss: 0.1 * Double(i) + 1e-17, kl: Double(i) / 3, clipFraction: 0.25, entropy: .pi * Double(i), tokens: 10 + i)
    }

    static func same(_ a: Statistics?, _ b: Statistics?) -> Bool {
        guard let a, let b else { return a == nil && b == nil }
        return a.loss.bitPattern == b.loss.bitPattern && a.kl.bitPattern == b.kl.bitPattern
            && a.clipFraction.bitPattern == b.clipFraction.bitPattern && a.entropy.bitPattern == b.entropy.bitPattern
            && a.tokens == b.tokens
    }

    /// Two ranks, sequences dealt out as the update does (i to rank i mod 2): each ends with
    /// every sequence's statistics, bit for bit.
    @Test func lossStatisticsReachEveryRank() throws {
        let count = 5
        let ofRank1: [Statistics?] = (0..<count).map { $0 % 2 == 1 ? Self.statistics($0) : nil }
        let rank1 = OneOfSeveral(rank: 1, size: 2, others: [[]])
        _ = try? PolicyGradient.exchange(ofRank1, over: rank1)  // only what it sends is wanted
        let ofRank0: [Statistics?] = (0..<count).map { $0 % 2 == 0 ? Self.statistics($0) : nil }
        let merged = try PolicyGradient.exchange(ofRank0, over: OneOfSeveral(rank: 0, size: 2, others: rank1.sent))
        #expect(merged.indices.allSatisfy { Self.same(merged[$0], Self.statistics($0)) })
    }

    /// A rank that sends bytes of another shape, or leaves a sequence out, is an error naming it.
    @Test func malformedStatisticsAreErrors() {
        let ofRank0: [Statistics?] = [Self.statistics(0), nil]
        #expect(throws: CommunicatorError("rank 1 sent 47 bytes of loss statistics, not a multiple of 48")) {
            try PolicyGradient.exchange(ofRank0, over: OneOfSeveral(rank: 0, size: 2, others: [[UInt8](repeating: 0, count: 47)]))
        }
        #expect(throws: CommunicatorError("no rank sent the loss statistics of sequence 1")) {
            try PolicyGradient.exchange(ofRank0, over: OneOfSeveral(rank: 0, size: 2, others: [[]]))
        }
    }

    /// Each rank's scored trees joined in rank order, with scores summed as if one process had
    /// scored them all (rewards in tree order, exactly).
    @Test func scoredTreesReachEveryRank() throws {
        func tree(_ question: String, reward: Double) -> RolloutTree {
            var t = RolloutTree(question: question, reference: "3", promptTokens: [1, 2])
            t.addChild(of: 0, tokens: [4, 5], logProbs: [-0.1, -1e-7], finishReason: .eos, reward: reward)
            return t
        }
        let theirs = [tree("c", reward: 0.3), tree("d", reward: 1)]
        let scoresTheirs = LeafScores(leaves: 2, correct: 1, responseTokens: 4, rewards: [0.3, 1], lines: StepLineTally(lines: 3, slips: 1))
        let rank1 = OneOfSeveral(rank: 1, size: 2, others: [[]])
        _ = try? TreeExchange.gather(theirs, scores: scoresTheirs, over: rank1)  // only what it sends is wanted
        let mine = [tree("a", reward: 0.1), tree("b", reward: 0)]
        let scoresMine = LeafScores(leaves: 2, correct: 0, responseTokens: 4, rewards: [0.1, 0], lines: StepLineTally(lines: 2, slips: 0))
        let (all, scores) = try TreeExchange.gather(mine, scores: scoresMine, over: OneOfSeveral(rank: 0, size: 2, others: rank1.sent))
        #expect(all == mine + theirs)
        #expect(scores.rewards == [0.1, 0, 0.3, 1])
        #expect(scores.leaves == 4 && scores.correct == 1 && scores.responseTokens == 8)
        #expect(scores.lines == StepLineTally(lines: 5, slips: 1))
        #expect(throws: CommunicatorError.self) {
            try TreeExchange.gather(mine, scores: scoresMine, over: OneOfSeveral(rank: 0, size: 2, others: [Array("{}".utf8)]))
        }
    }
}
