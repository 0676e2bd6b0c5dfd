import Foundation
import Testing
import TestSupport
@testable import Tensors

/// Every kernel against PyTorch (float64 autograd on the same float32 inputs; RoPE through
/// transformers' `apply_rotary_pos_emb`; attention through `scaled_dot_product_attention`).
/// Fixture: Tests/TensorsTests/Fixtures/torch_kernels.json.
@Suite struct TorchReferenceTests {
    static let regenerate = "regenerate with: python tools/make_kernel_fixtures.py"

    struct Array2: Decodable { let shape: [Int]; let values: [Double] }
    struct Case: Decodable {
        let name: String
        let inputs: [String: Array2]
        let outputs: [String: Array2]
        let transposeA: Bool?, transposeB: Bool?
        let ids: [Int32]?, targets: [Int32]?, positions: [Int32]?, parents: [Int]?
        let eps: Double?, theta: Double?, activation: String?
    }
    struct Conversions: Decodable { let values: [Float]; let float16: [UInt16]; let bfloat16: [UInt16] }
    struct File: Decodable { let torch: String; let cases: [Case]; let conversions: Conversions }

    static let file: File = {
        let url = Repository.url("Tests/TensorsTests/Fixtures/torch_kernels.json")
        guard let data = try? Data(contentsOf: url), let file = try? JSONDecoder().decode(File.self, from: data) else {
            fatalError("cannot read \(url.path); \(regenerate)")
        }
        return file
    }()

    static func named(_ name: String) -> Case {
        guard let c = file.cases.first(where: { $0.name == name }) else { fatalError("no case \(name); \(regenerate)") }
        return c
    }

    func input(_ c: Case, _ key: String) throws -> Tensor {
        let a = c.inputs[key]!
        return try Tensor(shape: a.shape, scalars: a.values.map(Float.init))
    }

    func expect(_ c: Case, _ key: String, _ actual: Tensor, atol: Double = 2e-5, rtol: Double = 1e-4,
                sourceLocation: SourceLocation = #_sourceLocation) {
        let ref = c.outputs[key]!
        #expect(actual.shape == ref.shape, "\(c.name).\(key) shape; \(Self.regenerate)", sourceLocation: sourceLocation)
        expectClose(actual.scalars, ref.values, atol: atol, rtol: rtol, "\(c.name).\(key) vs torch \(Self.file.torch); \(Self.regenerate)",
                    sourceLocation: sourceLocation)
    }

    @Test func matmul() throws {
        for name in ["matmul_00", "matmul_01", "matmul_10", "matmul_11"] {
            let c = Self.named(name)
            let (a, b, dc) = (try input(c, "a"), try input(c, "b"), try input(c, "dc"))
            expect(c, "c", try Gemm.matmul(a, b, transposeA: c.transposeA!, transposeB: c.transposeB!))
            let (da, db) = try Gemm.matmulBackward(dc, a, b, transposeA: c.transposeA!, transposeB: c.transposeB!)
            expect(c, "da", da)
            expect(c, "db", db)
        }
    }

    @Test func embedding() throws {
        let c = Self.named("embedding")
        let table = try input(c, "table")
        expect(c, "out", try Embedding.forward(table: table, ids: c.ids!))
        expect(c, "dtable", try Embedding.backward(dOut: input(c, "dout"), ids: c.ids!, vocab: table.shape[0]))
    }

    @Test func norms() throws {
        var c = Self.named("rmsnorm")
        let (x, w, dy) = (try input(c, "x"), try input(c, "weight"), try input(c, "dy"))
        let (y, rstd) = try RMSNorm.forward(x, weight: w, eps: Float(c.eps!))
        expect(c, "y", y)
        let (dx, dw) = try RMSNorm.backward(dy, x: x, weight: w, rstd: rstd)
        expect(c, "dx", dx)
        expect(c, "dweight", dw)
        c = Self.named("layernorm")
        let (ly, mean, lrstd) = try LayerNorm.forward(x, weight: w, bias: input(c, "bias"), eps: Float(c.eps!))
        expect(c, "y", ly)
        let g = try LayerNorm.backward(dy, x: x, weight: w, mean: mean, rstd: lrstd)
        expect(c, "dx", g.dx)
        expect(c, "dweight", g.dWeight)
        expect(c, "dbias", g.dBias)
    }

    @Test func rope() throws {
        let c = Self.named("rope")
        expect(c, "y", try RoPE.forward(input(c, "x"), positions: c.positions!, theta: Float(c.theta!)))
        expect(c, "dx", try RoPE.backward(input(c, "dy"), positions: c.positions!, theta: Float(c.theta!)))
    }

    @Test func activations() throws {
        for kind in Activation.allCases {
            let c = Self.named("activation_\(kind.rawValue)")
            let x = try input(c, "x")
            expect(c, "y", kind.forward(x))
            expect(c, "dx", try kind.backward(input(c, "dy"), x: x))
        }
        let c = Self.named("swiglu")
        let (gate, up) = (try input(c, "gate"), try input(c, "up"))
        expect(c, "y", try SwiGLU.forward(gate: gate, up: up))
        let (dg, du) = try SwiGLU.backward(input(c, "dy"), gate: gate, up: up)
        expect(c, "dgate", dg)
        expect(c, "dup", du)
    }

    @Test func softmaxFamily() throws {
        var c = Self.named("softmax")
        let y = try Softmax.forward(input(c, "x"))
        expect(c, "y", y)
        expect(c, "dx", try Softmax.backward(input(c, "dy"), y: y))
        c = Self.named("log_softmax")
        let ly = try Softmax.logForward(input(c, "x"))
        expect(c, "y", ly)
        expect(c, "dx", try Softmax.logBackward(input(c, "dy"), y: ly))
        c = Self.named("token_logprob")
        let logits = try input(c, "logits")
        let (logp, lse) = try TokenLogProb.forward(logits: logits, targets: c.targets!)
        expect(c, "logp", logp)
        expect(c, "dlogits", try TokenLogProb.backward(dLogp: input(c, "dlogp"), logits: logits, targets: c.targets!, lse: lse))
        c = Self.named("cross_entropy")
        let (loss, clse) = try CrossEntropy.forward(logits: logits, targets: c.targets!)
        expect(c, "loss", try Tensor(shape: [1], scalars: [loss]))
        expect(c, "dlogits", try CrossEntropy.backward(logits: logits, targets: c.targets!, lse: clse))
    }

    /// "packed": two causal runs, two trees and a lone token in one sequence (five segments).
    @Test(arguments: ["causal", "tree", "packed"])
    func attention(mask name: String) throws {
        let c = Self.named("attention_\(name)")
        let (q, k, v) = (try input(c, "q"), try input(c, "k"), try input(c, "v"))
        let mask = try c.parents.map { try AttentionMask(parents: $0) } ?? .causal(count: q.shape[0])
        let (out, lse) = try Attention.forward(q: q, k: k, v: v, mask: mask)
        expect(c, "out", out)
        let g = try Attention.backward(input(c, "dout"), q: q, k: k, v: v, out: out, lse: lse, mask: mask)
        expect(c, "dq", g.dq)
        expect(c, "dk", g.dk)
        expect(c, "dv", g.dv)
    }

    @Test func halfPrecisionBitsEqualTorch() {
        let conv = Self.file.conversions
        #expect(HalfPrecision.float16Bits(from: conv.values) == conv.float16, "fp16 bits; \(Self.regenerate)")
        #expect(HalfPrecision.bfloat16Bits(from: conv.values) == conv.bfloat16, "bf16 bits; \(Self.regenerate)")
    }
}
