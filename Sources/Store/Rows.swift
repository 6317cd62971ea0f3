/// Summing rows of a row-major `[n, d]` float matrix: the inner loop shared by the encoder's bucket
/// aggregation and the scorer's bucket gather.
public enum Rows {
    /// `out[0..<d] += Σ_k vectors[rows[k] · d ..< rows[k] · d + d]`, 16 floats at a time in registers.
    @inlinable @inline(__always)
    public static func add(_ rows: UnsafePointer<Int>, _ count: Int, of vectors: UnsafePointer<Float>, d: Int,
                           into out: UnsafeMutablePointer<Float>) {
        var k = 0
        while k + 16 <= d {
            var acc = UnsafeRawPointer(out + k).loadUnaligned(as: SIMD16<Float>.self)
            for r in 0..<count { acc += UnsafeRawPointer(vectors + rows[r] * d + k).loadUnaligned(as: SIMD16<Float>.self) }
            UnsafeMutableRawPointer(out + k).storeBytes(of: acc, as: SIMD16<Float>.self)
            k += 16
        }
        while k < d {
            var acc = out[k]
            for r in 0..<count { acc += vectors[rows[r] * d + k] }
            out[k] = acc
            k += 1
        }
    }
}
