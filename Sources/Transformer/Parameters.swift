import Tensors

/// All parameters of a model in one Float32 allocation, with a named view per parameter.
/// Gradients and optimiser moments use the same layout (a second `Parameters` of the same
/// specs), so an optimiser step is one loop over `count` scalars.
public final class Parameters: @unchecked Sendable {
    public struct Entry: Equatable, Sendable {
        public var spec: ParameterSpec
        /// Offset of the first scalar in the flat buffer.
        public var offset: Int
    }

    public let entries: [Entry]
    public let count: Int
    private let index: [String: Int]
    /// The flat buffer: `count` scalars, zero-initialised.
    public let base: UnsafeMutablePointer<Float>

    public init(specs: [ParameterSpec]) {
        var offset = 0
        var entries: [Entry] = []
        for spec in specs {
            entries.append(Entry(spec: spec, offset: offset))
            // 16-float alignment keeps each view on a 64-byte boundary for SIMD loads.
            offset += (spec.count + 15) / 16 * 16
        }
        self.entries = entries
        count = offset
        index = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.spec.name, $0) })
        base = .allocate(capacity: max(1, count))
        base.initialize(repeating: 0, count: max(1, count))
    }

    deinit { base.deallocate() }

    public var specs: [ParameterSpec] { entries.map(\.spec) }

    public func entry(_ name: String) -> Entry? { index[name].map { entries[$0] } }

    /// The view of a parameter; traps on an unknown name (a programming error: names come from
    /// the same specs that built the layout).
    public subscript(_ name: String) -> UnsafeMutablePointer<Float> {
        guard let e = entry(name) else { preconditionFailure("Parameters: no parameter named \(name)") }
        return base + e.offset
    }

    /// A copy of one parameter as a `Tensor`.
    public func tensor(_ name: String) -> Tensor? {
        guard let e = entry(name) else { return nil }
        return try? Tensor(shape: e.spec.shape, scalars: Array(UnsafeBufferPointer(start: base + e.offset, count: e.spec.count)))
    }

    /// Same layout, zero-filled: for gradients and optimiser state.
    public func zerosLike() -> Parameters { Parameters(specs: specs) }

    public func copy(from other: Parameters) {
        precondition(other.specs == specs, "Parameters.copy: layouts differ")
        base.update(from: other.base, count: count)
    }
}
