/// A Float32 tensor: a shape and contiguous row-major storage (the last dimension varies fastest).
///
/// Value semantics (copy on write through `[Float]`). Kernels work on raw pointers with explicit
/// sizes (see `Kernels/`); the `Tensor` entry points check shapes and throw `TensorError`.
public struct Tensor: Equatable, Sendable, CustomStringConvertible {
    public let shape: [Int]
    public var scalars: [Float]

    /// Throws when `scalars.count` is not the product of `shape` or a dimension is negative.
    public init(shape: [Int], scalars: [Float]) throws {
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw TensorError(op: "Tensor.init", "dimensions must be >= 0, found shape \(shape)")
        }
        let expected = shape.reduce(1, *)
        guard expected == scalars.count else {
            throw TensorError(
                op: "Tensor.init",
                "shape \(shape) needs \(expected) scalars, found \(scalars.count)")
        }
        self.shape = shape
        self.scalars = scalars
    }

    public init(zeros shape: [Int]) {
        self.init(shape: shape, repeating: 0)
    }

    public init(shape: [Int], repeating value: Float) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in \(shape)")
        self.shape = shape
        self.scalars = [Float](repeating: value, count: shape.reduce(1, *))
    }

    public var count: Int { scalars.count }
    public var rank: Int { shape.count }

    /// The same scalars under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        let needed = newShape.reduce(1, *)
        guard needed == count, newShape.allSatisfy({ $0 >= 0 }) else {
            throw TensorError(op: "reshape", "cannot view shape \(shape) (\(count) scalars) as \(newShape)")
        }
        return try Tensor(shape: newShape, scalars: scalars)
    }

    public var description: String {
        let head = scalars.prefix(8).map { String($0) }.joined(separator: ", ")
        return "Tensor\(shape)[\(head)\(count > 8 ? ", ..." : "")]"
    }
}

/// A shape or argument error, naming the operation and what was expected and found.
public struct TensorError: Error, CustomStringConvertible, Equatable {
    public let op: String
    public let message: String

    public init(op: String, _ message: String) {
        self.op = op
        self.message = message
    }

    public var description: String { "\(op): \(message)" }
}

/// Shape checks shared by the `Tensor` entry points of the kernels.
enum Check {
    /// Throws unless `tensor` has rank `rank`, naming the operation and the argument.
    static func rank(_ tensor: Tensor, _ rank: Int, _ name: String, op: String) throws {
        guard tensor.rank == rank else {
            throw TensorError(op: op, "expected \(name) of rank \(rank), found shape \(tensor.shape)")
        }
    }

    static func sameShape(_ a: Tensor, _ b: Tensor, _ names: (String, String), op: String) throws {
        guard a.shape == b.shape else {
            throw TensorError(
                op: op,
                "\(names.0) and \(names.1) must have the same shape, found \(a.shape) and \(b.shape)")
        }
    }

    static func that(_ condition: Bool, op: String, _ message: @autoclosure () -> String) throws {
        if !condition { throw TensorError(op: op, message()) }
    }
}
