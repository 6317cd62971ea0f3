import CBLAS

/// The few OpenBLAS calls Lifelong makes, row-major, single precision.
///
/// Thread count: Lifelong calls `BLAS.useOneThread()` once before scoring. A serving process scores many
/// requests concurrently, one per thread, and each product is small (≤ 1000 × 640 × 200); OpenBLAS's own
/// threads would then only contend with the request threads for the same cores.
public enum BLAS {
    /// `C[M, N] = alpha · A[M, K] × B` (+ `C` when `accumulate`), where `B` is `[K, N]`, or `[N, K]` used transposed.
    public static func gemm(_ m: Int, _ n: Int, _ k: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int? = nil,
                            b: UnsafePointer<Float>, ldb: Int? = nil, transposeB: Bool,
                            into c: UnsafeMutablePointer<Float>, ldc: Int? = nil, accumulate: Bool = false) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda ?? k), b, Int32(ldb ?? (transposeB ? k : n)),
                    accumulate ? 1 : 0, c, Int32(ldc ?? n))
    }

    /// Makes every later BLAS call run on the calling thread only.
    public static func useOneThread() { openblas_set_num_threads(1) }
}
