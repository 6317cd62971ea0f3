import CKernels

/// Summing rows of a row-major `[n, d]` float matrix: the inner loop shared by the encoder's bucket
/// aggregation and the scorer's bucket gather.
public enum Rows {
    /// `out[0..<d] += Σ_k vectors[rows[k] · d ..< rows[k] · d + d]`, each element summed in row order.
    /// Runs the C kernel (`Sources/CKernels`): AVX2 when the CPU has it, 8 floats per add; the x86-64
    /// baseline otherwise. Both give the same floats (same order of additions).
    @inline(__always)
    public static func add(
        _ rows: UnsafePointer<Int>, _ count: Int, of vectors: UnsafePointer<Float>, d: Int,
        into out: UnsafeMutablePointer<Float>
    ) {
        lifelong_rows_add(rows, count, vectors, d, out)
    }

    /// Whether `add` runs its AVX2 variant here.
    public static var usesAVX2: Bool { lifelong_rows_add_uses_avx2() != 0 }
}
