/// The logits rows that a packed sequence's loss reads (issue 18): ascending and distinct, each
/// the row of at least one loss token. A training forward computes logits for these rows only
/// (`TransformerModel.forward(tokens:positions:mask:logitRows:activations:)`), so rows whose
/// next token carries no loss (a prompt's) skip the output head and the log-softmax, forward and
/// backward. `compact` renumbers loss tokens into those compact logits `[rows.count, vocab]`.
public struct LossRows: Equatable, Sendable {
    /// `[r]` the rows of the sequence that have logits, ascending.
    public let rows: [Int32]
    /// `[max row + 1]` the index in `rows` of each sequence row, -1 where no loss token reads it.
    private let slot: [Int32]

    /// The distinct rows among `tokenRows` (the loss tokens' rows, in any order).
    public init(_ tokenRows: [Int32]) {
        var slot = [Int32](repeating: -1, count: Int(tokenRows.max() ?? -1) + 1)
        for (k, row) in tokenRows.enumerated() {
            precondition(row >= 0, "LossRows: loss token \(k) names logits row \(row); expected a row >= 0")
            slot[Int(row)] = 0
        }
        var rows: [Int32] = []
        for r in slot.indices where slot[r] == 0 {
            slot[r] = Int32(rows.count)
            rows.append(Int32(r))
        }
        self.rows = rows
        self.slot = slot
    }

    /// Every row of an n-token sequence: the computation before issue 18 (logits for all rows),
    /// kept so that tests can compare the two through the same code.
    public init(every n: Int) {
        rows = (0..<n).map { Int32($0) }
        slot = rows
    }

    /// `tokens` with each row replaced by its row in the compact logits; every token's row must
    /// be one of `rows`.
    public func compact(_ tokens: [LossToken]) -> [LossToken] {
        tokens.enumerated().map { k, token in
            let row = Int(token.row)
            precondition(row >= 0 && row < slot.count && slot[row] >= 0,
                         "LossRows: loss token \(k) names row \(row), which has no logits (rows: \(rows.count))")
            var t = token
            t.row = slot[row]
            return t
        }
    }
}
