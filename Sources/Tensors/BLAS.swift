import COpenBLAS

/// The few BLAS calls Lifelong makes, row-major, through OpenBLAS loaded with the best kernels this CPU's
/// feature bits allow (`Sources/COpenBLAS`: `OPENBLAS_CORETYPE` from CPUID unless the user set it, then
/// `dlopen` of the first OpenBLAS found: the host process's, Debian's, the scipy-openblas32 wheel's), so
/// every entry point — the CLI, the benchmarks, a host process embedding the scorer — runs the same kernels.
/// `BLAS.info` says which.
///
/// Thread count: Lifelong calls `BLAS.useOneThread()` once before scoring. A serving process scores many
/// requests concurrently, one per thread, and each product is small (≤ 1000 × 640 × 200); OpenBLAS's own
/// threads would then only contend with the request threads for the same cores.
public enum BLAS {
    /// `C[M, N] = alpha · A[M, K] × B` (+ `C` when `accumulate`), where `B` is `[K, N]`, or `[N, K]` used transposed.
    @inline(__always)
    public static func gemm(
        _ m: Int, _ n: Int, _ k: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int? = nil,
        b: UnsafePointer<Float>, ldb: Int? = nil, transposeB: Bool,
        into c: UnsafeMutablePointer<Float>, ldc: Int? = nil, accumulate: Bool = false
    ) {
        lifelong_sgemm(
            0, transposeB ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda ?? k), b,
            Int32(ldb ?? (transposeB ? k : n)), accumulate ? 1 : 0, c, Int32(ldc ?? n))
    }

    /// `C[m, n] = op(A) × op(B) + beta · C`, row-major; `op(A)` is `[m, k]`, `op(B)` is `[k, n]`.
    @inline(__always)
    public static func gemm(
        transposeA: Bool, transposeB: Bool, _ m: Int, _ n: Int, _ k: Int, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        lifelong_sgemm(
            transposeA ? 1 : 0, transposeB ? 1 : 0, Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb),
            beta, c, Int32(ldc))
    }

    /// The same in float64 (the trainer's gradient checks).
    @inline(__always)
    public static func gemm(
        transposeA: Bool, transposeB: Bool, _ m: Int, _ n: Int, _ k: Int, a: UnsafePointer<Double>, lda: Int,
        b: UnsafePointer<Double>, ldb: Int, beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        lifelong_dgemm(
            transposeA ? 1 : 0, transposeB ? 1 : 0, Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb),
            beta, c, Int32(ldc))
    }

    /// Makes every later BLAS call run on the calling thread only.
    public static func useOneThread() { lifelong_blas_set_threads(1) }

    /// What runs the products.
    public struct Info: Sendable, Equatable, CustomStringConvertible {
        /// `openblas_get_config()`: "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH …", or why the C fallback runs.
        public var library: String
        /// The kernel set in use ("SkylakeX", "Haswell", …).
        public var core: String
        /// The best kernel set the CPU's feature bits allow.
        public var bestCore: String
        /// "cpu-features", "OPENBLAS_CORETYPE" (the user's environment), "already-loaded" or "fallback".
        public var chosenBy: String
        /// Where the library came from: the host process, Debian's libopenblas0, the scipy-openblas32 wheel,
        /// a `LIFELONG_OPENBLAS` path, or "none" (`Sources/COpenBLAS/include/lifelong_blas.h`).
        public var source: String
        /// Whether the kernels in use are the best the CPU allows.
        public var isBest: Bool { core.lowercased() == bestCore.lowercased() }

        public var description: String {
            guard source != "none" else { return "plain C loop, no OpenBLAS found (best for this CPU: \(bestCore))" }
            return "\(library.split(separator: " ").prefix(2).joined(separator: " ")), core \(core) (chosen by "
                + "\(chosenBy); best for this CPU: \(bestCore))"
        }
    }

    /// Loads OpenBLAS if needed and says what runs the products.
    public static var info: Info {
        Info(
            library: String(cString: lifelong_blas_library()), core: String(cString: lifelong_blas_core()),
            bestCore: String(cString: lifelong_blas_best_core()), chosenBy: String(cString: lifelong_blas_chosen_by()),
            source: String(cString: lifelong_blas_source()))
    }
}
