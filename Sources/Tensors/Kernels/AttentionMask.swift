/// Which keys each query of a packed sequence may see.
///
/// Every token has a predecessor (`parents[i]`, or -1 for the first token of a path); token i
/// sees token j iff j is i itself or on i's chain of predecessors. A plain causal mask is the
/// chain i-1, i-2, ..., 0. A packed tree (prompt, then each step once) gives the first token of
/// a child the parent step's last token as predecessor, so each token sees exactly its own
/// root-to-leaf path. Predecessors come earlier in the sequence (`parents[i] < i`).
public struct AttentionMask: Equatable, Sendable {
    public let parents: [Int32]
    /// Path length of each token (1 for a path's first token): its attention span.
    public let depths: [Int32]
    /// Consecutive token ranges that attend only within themselves, covering 0..<count in
    /// order: no token's chain crosses a segment's start (each packed sequence or tree is one).
    /// Attention's score matrix is block-diagonal over them.
    public let segments: [Range<Int>]

    public var count: Int { parents.count }

    /// The plain causal mask over `count` tokens.
    public static func causal(count: Int) -> AttentionMask {
        AttentionMask(unchecked: (0..<count).map { Int32($0 - 1) })
    }

    /// A tree mask from each token's predecessor (-1 for none). Throws unless every
    /// predecessor is an earlier token.
    public init(parents: [Int]) throws {
        for (i, p) in parents.enumerated() where p < -1 || p >= i {
            throw TensorError(op: "AttentionMask",
                              "token \(i) has predecessor \(p); expected -1 or an earlier token in 0..<\(i)")
        }
        self.init(unchecked: parents.map { Int32($0) })
    }

    private init(unchecked parents: [Int32]) {
        self.parents = parents
        var depths = [Int32](repeating: 1, count: parents.count)
        for i in parents.indices where parents[i] >= 0 { depths[i] = depths[Int(parents[i])] + 1 }
        self.depths = depths
        segments = Self.segments(parents: parents)
    }

    /// b starts a segment iff every token from b on has its chain's root (the token with no
    /// predecessor it reaches) at or after b; a chain never leaves [root, token].
    static func segments(parents: [Int32]) -> [Range<Int>] {
        var roots = [Int](repeating: 0, count: parents.count)
        for i in parents.indices { roots[i] = parents[i] < 0 ? i : roots[Int(parents[i])] }
        var ends: [Range<Int>] = []
        var lowestRoot = Int.max, end = parents.count
        for b in parents.indices.reversed() {
            lowestRoot = min(lowestRoot, roots[b])
            if lowestRoot == b {
                ends.append(b..<end)
                end = b
            }
        }
        return ends.reversed()
    }

    /// The keys token i sees, nearest first (i, its predecessor, ...).
    public func visibleKeys(of i: Int) -> [Int] {
        var keys: [Int] = []
        var j = i
        while j >= 0 {
            keys.append(j)
            j = Int(parents[j])
        }
        return keys
    }

    /// True when token `i` may attend to token `j`.
    public func allows(query i: Int, key j: Int) -> Bool {
        guard j <= i else { return false }
        var k = i
        while k > j { k = Int(parents[k]) }
        return k == j
    }

    public var maxDepth: Int { Int(depths.max() ?? 0) }
}
