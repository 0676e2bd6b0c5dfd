import Testing
@testable import Tensors

@Test func matmulSmall() throws {
    let a = try Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
    let b = try Tensor(shape: [3, 1], scalars: [1, 1, 1])
    #expect(try Gemm.matmul(a, b).scalars == [6, 15])
}
