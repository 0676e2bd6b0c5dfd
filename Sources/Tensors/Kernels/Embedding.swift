/// Embedding lookup: out[t, :] = table[ids[t], :]. table is `[vocab, dim]`, out `[tokens, dim]`.
public enum Embedding {
    /// Ids must already be checked to lie in `0..<vocab` (the `Tensor` form does).
    public static func forward(
        table: UnsafePointer<Float>, ids: UnsafePointer<Int32>, out: UnsafeMutablePointer<Float>,
        tokens: Int, dim: Int
    ) {
        for t in 0..<tokens {
            (out + t * dim).update(from: table + Int(ids[t]) * dim, count: dim)
        }
    }

    /// dTable[ids[t], :] += dOut[t, :]. Repeated ids add up; threads split the `dim` columns so
    /// no two write the same element.
    public static func backward(
        dOut: UnsafePointer<Float>, ids: UnsafePointer<Int32>, dTable: UnsafeMutablePointer<Float>,
        tokens: Int, dim: Int
    ) {
        Compute.parallelFor(dim, minChunk: max(16, dim / Compute.threads)) { cols in
            for t in 0..<tokens {
                let src = dOut + t * dim, dst = dTable + Int(ids[t]) * dim
                for c in cols { dst[c] += src[c] }
            }
        }
    }
}

extension Embedding {
    static func checkIds(_ ids: [Int32], vocab: Int, op: String) throws {
        if let bad = ids.firstIndex(where: { $0 < 0 || Int($0) >= vocab }) {
            throw TensorError(op: op, "token id \(ids[bad]) at position \(bad) is outside the table's \(vocab) rows")
        }
    }

    /// table `[vocab, dim]`, ids `[tokens]` -> `[tokens, dim]`
    public static func forward(table: Tensor, ids: [Int32]) throws -> Tensor {
        try Check.rank(table, 2, "table", op: "embedding")
        try checkIds(ids, vocab: table.shape[0], op: "embedding")
        let dim = table.shape[1]
        var out = Tensor(zeros: [ids.count, dim])
        table.withPointer { pt in ids.withUnsafeBufferPointer { pi in out.withMutablePointer { po in
            if let base = pi.baseAddress { forward(table: pt, ids: base, out: po, tokens: ids.count, dim: dim) }
        } } }
        return out
    }

    /// dTable `[vocab, dim]` from dOut `[tokens, dim]`.
    public static func backward(dOut: Tensor, ids: [Int32], vocab: Int) throws -> Tensor {
        try Check.rank(dOut, 2, "dOut", op: "embeddingBackward")
        try Check.that(dOut.shape[0] == ids.count, op: "embeddingBackward",
                       "expected dOut [\(ids.count), dim] for \(ids.count) ids, found \(dOut.shape)")
        try checkIds(ids, vocab: vocab, op: "embeddingBackward")
        let dim = dOut.shape[1]
        var dTable = Tensor(zeros: [vocab, dim])
        dOut.withPointer { pd in ids.withUnsafeBufferPointer { pi in dTable.withMutablePointer { pt in
            if let base = pi.baseAddress { backward(dOut: pd, ids: base, dTable: pt, tokens: ids.count, dim: dim) }
        } } }
        return dTable
    }
}
