import Foundation
import Testing
import TestSupport
@testable import Tensors

/// Softmax family: exp/log in Float32 over up to 257 columns: atol 1e-6 (probabilities), 1e-5 (logs).
@Suite struct SoftmaxTests {
    @Test(arguments: [(1, 1), (7, 33), (33, 7), (3, 257), (2, 1000)])
    func softmaxAndLogSoftmaxMatchReference(rows: Int, cols: Int) throws {
        var rng = TestRNG(seed: UInt64(rows * 3 + cols))
        let x = try Tensor(shape: [rows, cols], scalars: rng.floats(rows * cols, scale: 8))
        let dy = try Tensor(shape: [rows, cols], scalars: rng.floats(rows * cols))
        let y = try Softmax.forward(x)
        expectClose(y.scalars, Reference.softmax(x.scalars.doubles, cols: cols), atol: 1e-6, rtol: 1e-5, "softmax")
        expectClose(try Softmax.backward(dy, y: y).scalars, Reference.softmaxBackward(dy.scalars.doubles, x: x.scalars.doubles, cols: cols), atol: 1e-6, rtol: 1e-4, "softmax backward")
        let ly = try Softmax.logForward(x)
        expectClose(ly.scalars, Reference.logSoftmax(x.scalars.doubles, cols: cols), atol: 1e-5, rtol: 1e-6, "logSoftmax")
        expectClose(try Softmax.logBackward(dy, y: ly).scalars, Reference.logSoftmaxBackward(dy.scalars.doubles, x: x.scalars.doubles, cols: cols), atol: 1e-5, rtol: 1e-4, "logSoftmax backward")
    }

    @Test(arguments: [(1, 1), (7, 33), (33, 257), (3, 2000)])
    func tokenLogProbAndCrossEntropyMatchReference(tokens: Int, vocab: Int) throws {
        var rng = TestRNG(seed: UInt64(tokens * 17 + vocab))
        let logits = try Tensor(shape: [tokens, vocab], scalars: rng.floats(tokens * vocab, scale: 10))
        let targets = rng.ids(tokens, below: vocab)
        let dLogp = try Tensor(shape: [tokens], scalars: rng.floats(tokens))
        let (logp, lse) = try TokenLogProb.forward(logits: logits, targets: targets)
        expectClose(logp.scalars, Reference.tokenLogProb(logits: logits.scalars.doubles, targets: targets, vocab: vocab), atol: 1e-5, rtol: 1e-6, "logp")
        let dLogits = try TokenLogProb.backward(dLogp: dLogp, logits: logits, targets: targets, lse: lse)
        expectClose(dLogits.scalars, Reference.tokenLogProbBackward(dLogp.scalars.doubles, logits: logits.scalars.doubles, targets: targets, vocab: vocab),
                    atol: 1e-6, rtol: 1e-4, "logp backward")
        let (loss, _) = try CrossEntropy.forward(logits: logits, targets: targets)
        expectClose([loss], [Reference.crossEntropy(logits: logits.scalars.doubles, targets: targets, vocab: vocab)], atol: 1e-5, rtol: 1e-6, "cross-entropy")
        let dCE = try CrossEntropy.backward(logits: logits, targets: targets, lse: lse)
        let fd = finiteDifferenceGradient(logits.scalars.doubles, weights: [1], step: 1e-4) {
            [Reference.crossEntropy(logits: $0, targets: targets, vocab: vocab)]
        }
        if tokens * vocab <= 2000 { expectClose(dCE.scalars, fd, atol: 1e-6, rtol: 1e-4, "cross-entropy backward vs FD") }
    }

    @Test func referenceBackwardsMatchFiniteDifferences() {
        var rng = TestRNG(seed: 2)
        let (rows, cols) = (3, 7)
        let x = rng.floats(rows * cols, scale: 3).doubles, w = rng.floats(rows * cols).doubles
        expectClose(Reference.softmaxBackward(w, x: x, cols: cols), finiteDifferenceGradient(x, weights: w) { Reference.softmax($0, cols: cols) }, atol: 1e-8, rtol: 1e-6, "FD softmax")
        expectClose(Reference.logSoftmaxBackward(w, x: x, cols: cols), finiteDifferenceGradient(x, weights: w) { Reference.logSoftmax($0, cols: cols) }, atol: 1e-8, rtol: 1e-6, "FD logSoftmax")
        let targets: [Int32] = [6, 0, 3]
        let wt = Array(w.prefix(rows))
        expectClose(Reference.tokenLogProbBackward(wt, logits: x, targets: targets, vocab: cols),
                    finiteDifferenceGradient(x, weights: wt) { Reference.tokenLogProb(logits: $0, targets: targets, vocab: cols) }, atol: 1e-8, rtol: 1e-6, "FD logp")
    }

    @Test func largeLogitsDoNotOverflow() throws {
        let x = try Tensor(shape: [1, 3], scalars: [1000, 999, -1000])
        let (logp, _) = try TokenLogProb.forward(logits: x, targets: [0])
        expectClose(logp.scalars, [-log1p(exp(-1.0))], atol: 1e-6, rtol: 0, "logp at 1000")
        #expect(try Softmax.forward(x).scalars.allSatisfy { $0.isFinite })
    }

    @Test func badTargetsAreNamed() {
        let e = #expect(throws: TensorError.self) { try TokenLogProb.forward(logits: Tensor(zeros: [2, 5]), targets: [1, 5]) }
        #expect(e?.message == "target id 5 at token 1 is outside the vocabulary of 5")
        #expect(throws: TensorError.self) { try TokenLogProb.forward(logits: Tensor(zeros: [2, 5]), targets: [1]) }
        #expect(throws: TensorError.self) { try Softmax.backward(Tensor(zeros: [2, 5]), y: Tensor(zeros: [5, 2])) }
    }
}
