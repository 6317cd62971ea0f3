import Tensors
import Foundation

/// The number type the trainer runs in: `Float` for training, `Double` for the finite-difference gradient
/// checks. The same generic code serves both, so the checks test the code that trains.
package protocol TrainingScalar: BinaryFloatingPoint, BitwiseCopyable, Sendable {
    static func exp(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    /// `C[m, n] = op(A) × op(B) + beta · C`, row-major; `op(A)` is `[m, k]`, `op(B)` is `[k, n]`.
    static func gemm(
        transposeA: Bool, transposeB: Bool, _ m: Int, _ n: Int, _ k: Int,
        a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
}

extension Float: TrainingScalar {
    @inline(__always) package static func exp(_ x: Float) -> Float { expf(x) }
    @inline(__always) package static func log(_ x: Float) -> Float { logf(x) }
    package static func gemm(
        transposeA: Bool, transposeB: Bool, _ m: Int, _ n: Int, _ k: Int,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        BLAS.gemm(
            transposeA: transposeA, transposeB: transposeB, m, n, k, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c,
            ldc: ldc)
    }
}

extension Double: TrainingScalar {
    @inline(__always) package static func exp(_ x: Double) -> Double { Foundation.exp(x) }
    @inline(__always) package static func log(_ x: Double) -> Double { Foundation.log(x) }
    package static func gemm(
        transposeA: Bool, transposeB: Bool, _ m: Int, _ n: Int, _ k: Int,
        a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
        beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        BLAS.gemm(
            transposeA: transposeA, transposeB: transposeB, m, n, k, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c,
            ldc: ldc)
    }
}
