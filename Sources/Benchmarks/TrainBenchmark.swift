import Foundation
import Sampling
import ModelFiles
import Tensors
import Transformer
import TreeRPO
#if canImport(Glibc)
import Glibc
#endif

/// Throughput of one training step (forward, policy loss, backward, AdamW) for
/// `treerpo bench train`; the peer (PyTorch eager, same shape and loss) is measured by
/// `tools/bench_train.py`, which runs both alternately.
///
/// A batch is `batch` sequences of `tokens` tokens with random ids. Every position but each
/// sequence's last predicts the next token (beta 0, random advantages, old log-probs
/// -log(vocab)), token-mean weights; with `promptShare` p, the first round(p x tokens) rows of
/// each sequence carry no loss, as a chat prompt's rows do. The forward computes logits for the
/// loss rows only, as the trainer does (`LossRows`), or for every row with `allLogitRows` (the
/// computation before issue 18, for comparison). Two ways to run it:
///   - `.sequences`: one forward/backward per sequence, gradients accumulated, one AdamW step
///     (attention costs batch x tokens^2);
///   - `.packed`: all sequences in one packed forward/backward with a block-diagonal causal mask
///     (one set of large GEMMs; attention splits the mask into its segments, so it costs
///     batch x tokens^2 as above, but the activations are held for batch x tokens rows).
public enum TrainBenchmark {
    public enum Layout: String, Codable, Sendable, CaseIterable { case sequences, packed }

    public struct Result: Codable, Sendable {
        public var layout: Layout
        public var batch: Int, tokens: Int, threads: Int
        /// Share of each sequence's rows without loss, and the logits rows one step computes.
        public var promptShare: Double, logitRowsPerStep: Int
        public var parameters: Int
        /// Median over the timed steps.
        public var tokensPerSecond: Double
        /// Matrix-product FLOPs of one step's forwards and backwards (`StepFlops.training`), and
        /// their rate over the median step (forward, loss, backward and AdamW).
        public var flopsPerStep: Double, gflopsPerSecond: Double
        /// The best OpenBLAS rate of `KernelBenchmark.gemm` measured in the same process at the
        /// same threads (the caller fills it in; nil if it did not measure), GFLOP/s.
        public var sgemmPeakGflops: Double?
        public var stepSeconds: [Double]
        /// Seconds of the median step spent in forward, loss, backward and AdamW.
        public var phaseSeconds: [String: Double]
        /// Peak resident memory of the process (`VmHWM`), bytes.
        public var peakResidentBytes: Int
        /// Resident memory before the model was loaded (the runtime, libraries' pages), bytes:
        /// what the caller measured, 0 if it did not.
        public var residentBeforeModelBytes: Int
        /// What the step must hold: parameters, gradients, AdamW moments (2x), and the
        /// activation and gradient buffers (as allocated), bytes.
        public var accountedBytes: [String: Int]
    }

    /// A random model of `config`'s shape: weights ~ N(0, 0.02) by a seeded generator, norm
    /// weights 1 (no download; for benchmarks only).
    public static func randomModel(config: ModelConfig, seed: UInt64 = 0) throws -> TransformerModel {
        let parameters = Parameters(specs: config.parameterSpecs)
        var rng = SplitMix64(seed: seed)
        for e in parameters.entries {
            let p = parameters.base + e.offset
            // The only one-dimensional weights are norm weights; the rest are biases.
            let vector = e.spec.shape.count == 1
            for i in 0..<e.spec.count {
                if vector { p[i] = e.spec.name.hasSuffix(".weight") ? 1 : 0; continue }
                // Sum of 4 uniforms: close enough to a normal for a benchmark, std 0.02.
                var s: Float = 0
                for _ in 0..<4 { s += Float(rng.next() >> 40) / Float(1 << 24) - 0.5 }
                p[i] = s * 0.02 * Float(3.0.squareRoot())
            }
        }
        return try TransformerModel(config: config, parameters: parameters)
    }

    /// The Qwen2 shape of `tools/bench_forward.py`'s "tiny" model (~1.7M parameters).
    public static func tinyConfig() throws -> ModelConfig {
        let json = """
        {"model_type": "qwen2", "vocab_size": 4096, "hidden_size": 128, "intermediate_size": 512,
         "num_hidden_layers": 5, "num_attention_heads": 4, "num_key_value_heads": 2,
         "max_position_embeddings": 2048, "tie_word_embeddings": true, "rope_theta": 1000000.0}
        """
        return try ModelConfig(hf: HFConfig(data: Data(json.utf8), file: "tiny (built in)"), file: "tiny (built in)")
    }

    /// The SmolLM2-135M shape (Llama, tied, `[49152, 576]` head) of `tools/bench_train.py`.
    public static func smolLM2Config() throws -> ModelConfig {
        let json = """
        {"model_type": "llama", "vocab_size": 49152, "hidden_size": 576, "intermediate_size": 1536,
         "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3,
         "max_position_embeddings": 8192, "tie_word_embeddings": true, "rope_theta": 100000.0,
         "rms_norm_eps": 1e-5}
        """
        return try ModelConfig(hf: HFConfig(data: Data(json.utf8), file: "smollm2 (built in)"), file: "smollm2 (built in)")
    }

    /// `residentBeforeModel`: `currentResidentBytes()` taken before the model was loaded.
    public static func run(
        model: TransformerModel, batch: Int, tokens: Int, steps: Int, layout: Layout, promptShare: Double = 0,
        allLogitRows: Bool = false, residentBeforeModel: Int = 0
    ) throws -> Result {
        let c = model.config
        let rowsPerForward = layout == .packed ? batch * tokens : tokens
        guard tokens >= 2, tokens <= c.maxPositions else {
            throw BenchmarkError("bench train: the token count must be in 2...\(c.maxPositions) (max_position_embeddings), got \(tokens)",
                                 setting: .benchmarkTokens)
        }
        guard promptShare >= 0, promptShare < 1 else {
            throw BenchmarkError("bench train: the prompt share must be in [0, 1), got \(promptShare)")
        }
        // Rows 0..<promptRows of each sequence carry no loss; at least its next-to-last does.
        let promptRows = min(Int((promptShare * Double(tokens)).rounded()), tokens - 2)
        let acts = Activations(config: c, capacity: rowsPerForward, keepsLayers: true)
        let gradients = model.parameters.zerosLike()
        let optimizer = AdamW(parameters: model.parameters)
        var rng = SplitMix64(seed: 42)
        let sequences = (0..<batch).map { _ in (0..<tokens).map { _ in Int32(rng.int(in: 0...(c.vocabSize - 1))) } }
        let advantages = (0..<batch).map { _ in Float(rng.int(in: -1000...1000)) / 1000 }
        let lossTokenCount = batch * (tokens - 1 - promptRows)
        let old = -Float(Foundation.log(Double(c.vocabSize)))

        // The forwards of one step: (tokens, positions, mask, loss tokens).
        var forwards: [([Int32], [Int32], AttentionMask, [LossToken])] = []
        func lossTokens(_ seqs: [Int], rowOffset: (Int) -> Int) -> [LossToken] {
            seqs.flatMap { s in
                (promptRows..<(tokens - 1)).map { t in
                    LossToken(row: Int32(rowOffset(s) + t), token: sequences[s][t + 1], advantage: advantages[s],
                              oldLogProb: old, weight: 1 / Float(lossTokenCount))
                }
            }
        }
        switch layout {
        case .sequences:
            for s in 0..<batch {
                forwards.append((sequences[s], (0..<tokens).map { Int32($0) }, .causal(count: tokens),
                                 lossTokens([s]) { _ in 0 }))
            }
        case .packed:
            var parents: [Int] = []
            for s in 0..<batch { parents += (0..<tokens).map { $0 == 0 ? -1 : s * tokens + $0 - 1 } }
            forwards.append((sequences.flatMap { $0 }, (0..<(batch * tokens)).map { Int32($0 % tokens) },
                             try AttentionMask(parents: parents), lossTokens(Array(0..<batch)) { $0 * tokens }))
        }

        var times: [[Double]] = []
        for step in 0...steps {  // step 0 warms up
            var phase = [Double](repeating: 0, count: 4)
            func timed(_ i: Int, _ body: () throws -> Void) rethrows {
                let start = DispatchTime.now().uptimeNanoseconds
                try body()
                phase[i] += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            }
            for (ids, positions, mask, loss) in forwards {
                let rows = LossRows(loss.map(\.row))
                try timed(0) {
                    if allLogitRows {
                        try model.forward(tokens: ids, positions: positions, mask: mask, activations: acts)
                    } else {
                        try model.forward(tokens: ids, positions: positions, mask: mask, logitRows: rows.rows, activations: acts)
                    }
                }
                timed(1) {
                    _ = PolicyLoss.lossAndGradient(logits: acts.logits, rows: allLogitRows ? ids.count : rows.rows.count,
                                                   vocab: c.vocabSize, tokens: allLogitRows ? loss : rows.compact(loss),
                                                   settings: PolicyLossSettings())
                }
                try timed(2) { try model.backward(tokens: ids, positions: positions, mask: mask, activations: acts, gradients: gradients) }
            }
            timed(3) {
                optimizer.update(model.parameters, gradients: gradients, lr: 1e-5)
                gradients.base.update(repeating: 0, count: gradients.count)
            }
            if step > 0 { times.append(phase) }
        }
        let totals = times.map { $0.reduce(0, +) }
        let medianIndex = totals.indices.sorted { totals[$0] < totals[$1] }[totals.count / 2]
        let median = times[medianIndex]
        let paramBytes = model.parameters.count * 4
        let logitRows = allLogitRows ? batch * tokens : forwards.reduce(0) { $0 + LossRows($1.3.map(\.row)).rows.count }
        // Both layouts: every sequence attends causally within itself.
        let flops = StepFlops.training(c, tokens: batch * tokens, logitRows: logitRows, pairs: batch * tokens * (tokens + 1) / 2)
        return Result(
            layout: layout, batch: batch, tokens: tokens, threads: Compute.threads,
            promptShare: promptShare, logitRowsPerStep: logitRows,
            parameters: model.parameters.specs.reduce(0) { $0 + $1.count },
            tokensPerSecond: Double(batch * tokens) / totals[medianIndex],
            flopsPerStep: flops, gflopsPerSecond: flops / totals[medianIndex] / 1e9, sgemmPeakGflops: nil, stepSeconds: totals,
            phaseSeconds: ["forward": median[0], "loss": median[1], "backward": median[2], "adamw": median[3]],
            peakResidentBytes: peakResidentBytes(), residentBeforeModelBytes: residentBeforeModel,
            accountedBytes: ["parameters": paramBytes, "gradients": paramBytes, "moments": 2 * paramBytes,
                             "activations": activationBytes(config: c, capacity: rowsPerForward)])
    }

    /// Bytes of `Activations(keepsLayers: true)` plus the backward's gradient buffers for
    /// `capacity` tokens: the model's buffer plan, as those buffers are allocated.
    public static func activationBytes(config c: ModelConfig, capacity n: Int) -> Int {
        BufferPlan(config: c, tokens: n, logitRows: n, keepsLayers: true, backward: true).bytes
    }

    /// The process's peak resident set so far, bytes: `VmHWM` of /proc/self/status (Linux), else
    /// getrusage's `ru_maxrss`. Not `ru_maxrss` first: it keeps the high-water mark of the
    /// address space that exec replaced, so a child of a large parent (a debugger, a forked
    /// Python) would report the parent's peak; `VmHWM` belongs to this program's own pages.
    public static func peakResidentBytes() -> Int {
        if let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let hwm = statusKilobytes("VmHWM", in: text) { return hwm * 1024 }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Int(usage.ru_maxrss) * 1024
    }

    /// The field `name` of a /proc/PID/status text ("VmHWM:\t   74836 kB"), kilobytes; nil
    /// where it is missing or not a number.
    static func statusKilobytes(_ name: String, in text: String) -> Int? {
        for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
            let fields = line.dropFirst(name.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" })
            return fields.first.flatMap { Int($0) }
        }
        return nil
    }

    /// The process's resident set now, bytes (Linux /proc/self/statm; 0 elsewhere).
    public static func currentResidentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Tokens a training step processes for one tree of `prompt` tokens whose nodes branch
    /// `branching[d]` ways at depth d into steps of `stepTokens`: packed (each step once) and
    /// path-expanded (every root-to-leaf path as its own sequence).
    public static func treeTokens(prompt: Int, branching: [Int], stepTokens: Int) -> (packed: Int, expanded: Int) {
        var nodes = 1, packed = prompt
        for b in branching {
            nodes *= b
            packed += nodes * stepTokens
        }
        return (packed, nodes * (prompt + branching.count * stepTokens))
    }
}
