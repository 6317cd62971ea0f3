import Tensors

/// SDIM's SimHash signatures and the long-term interest of Eq. 12 (arXiv 2205.10249), as MODEL.md states it.
///
/// - bit `k` of `v` is 1 when `P[k]·v > 0` (a tie is 0);
/// - signature `g` is `Σ_{t<τ} bit_{gτ+t} · 2^t`, a bucket in `0 ..< 2^τ`;
/// - `u_long = (1/n_sig) Σ_g S_g[sig_g(q)] / max(‖S_g[sig_g(q)]‖₂, 1e-12)`, an empty bucket contributing 0.
public enum SimHash {
    /// Signatures of one vector: `projection` is `[m, d]` row-major; writes `m/τ` buckets into `out`.
    /// - Complexity: O(m·d).
    @inlinable
    public static func signatures(
        of v: UnsafePointer<Float>, d: Int, projection: UnsafePointer<Float>, m: Int, tau: Int,
        into out: UnsafeMutablePointer<UInt8>
    ) {
        for g in 0..<(m / tau) {
            var bucket = 0
            for t in 0..<tau {
                let k = g * tau + t
                if dot(projection + k * d, v, d) > 0 { bucket |= 1 << t }
            }
            out[g] = UInt8(bucket)
        }
    }

    /// Signatures from precomputed projections `p[k] = P[k]·v` (e.g. one row of a BLAS product).
    @inlinable
    public static func signatures(
        fromProjections p: UnsafePointer<Float>, m: Int, tau: Int, into out: UnsafeMutablePointer<UInt8>
    ) {
        for g in 0..<(m / tau) {
            var bucket = 0
            for t in 0..<tau where p[g * tau + t] > 0 { bucket |= 1 << t }
            out[g] = UInt8(bucket)
        }
    }

    /// Eq. 12 from unnormalised bucket sums: `sums` is `[n_sig, 2^τ, d]`, `signature` the candidate's
    /// buckets. Writes `d` floats into `out`.
    /// - Complexity: O(n_sig · d), independent of the sequence length.
    @inlinable
    public static func longInterest(
        sums: UnsafePointer<Float>, signature: UnsafePointer<UInt8>, nSig: Int, buckets: Int, d: Int,
        into out: UnsafeMutablePointer<Float>
    ) {
        out.update(repeating: 0, count: d)
        for g in 0..<nSig {
            let s = sums + (g * buckets + Int(signature[g])) * d
            let norm = dot(s, s, d).squareRoot()
            if norm == 0 { continue }
            let scale = 1 / (max(norm, 1e-12) * Float(nSig))
            for j in 0..<d { out[j] += s[j] * scale }
        }
    }

    /// A dot product with four accumulators so the loop vectorises.
    @inlinable
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
        var i = 0
        while i + 4 <= n {
            s0 += a[i] * b[i]; s1 += a[i + 1] * b[i + 1]; s2 += a[i + 2] * b[i + 2]; s3 += a[i + 3] * b[i + 3]
            i += 4
        }
        while i < n { s0 += a[i] * b[i]; i += 1 }
        return (s0 + s1) + (s2 + s3)
    }
}

extension SimHash {
    /// SDIM's per-behavior update, on raw memory: each behavior adds its vector into the bucket its
    /// signature names under every signature. The one implementation behind the encoder, `append` (through
    /// `UserRecord.append`) and the scorer's `online` mode, so re-hashing a sequence adds exactly as the
    /// encoder did: behavior `j` is row `rows[j]` of `vectors`
    /// (`[n, d]`) and `signatures` (`[n, n_sig]`); `counts` is `[n_sig · buckets]`, `sums` `[n_sig · buckets, d]`.
    ///
    /// Blocked so the hot data stays in cache: a block of behaviors is sorted by bucket once per signature,
    /// then each bucket row takes its members' vectors through register accumulators (one store per row
    /// slice instead of one read-modify-write per behavior).
    public static func aggregate(
        count: Int, vectors: UnsafePointer<Float>, signatures: UnsafePointer<UInt8>, rows: UnsafePointer<Int>,
        nSig: Int, buckets: Int, d: Int, counts: UnsafeMutablePointer<UInt32>, sums: UnsafeMutablePointer<Float>
    ) {
        let block = 96  // with the bucket starts ≤ 1 KiB: the scratch stays on the stack (no heap allocation)
        withUnsafeTemporaryAllocation(of: Int.self, capacity: block + buckets + 1) { scratch in
            let order = scratch.baseAddress!, start = order + block
            for first in stride(from: 0, to: count, by: block) {
                let size = min(block, count - first)
                for g in 0..<nSig {
                    // Counting sort of the block's behaviors by their bucket under signature g.
                    start.update(repeating: 0, count: buckets + 1)
                    for j in 0..<size { start[Int(signatures[rows[first + j] * nSig + g]) + 1] += 1 }
                    for b in 0..<buckets { start[b + 1] += start[b] }
                    for j in 0..<size {
                        let b = Int(signatures[rows[first + j] * nSig + g])
                        order[start[b]] = rows[first + j]
                        start[b] += 1
                    }
                    var lo = 0
                    for b in 0..<buckets {
                        let hi = start[b]
                        if hi > lo {
                            counts[g * buckets + b] += UInt32(hi - lo)
                            Rows.add(order + lo, hi - lo, of: vectors, d: d, into: sums + (g * buckets + b) * d)
                        }
                        lo = hi
                    }
                }
            }
        }
    }
}

extension ModelBundle {
    /// Signatures of `count` vectors stored as rows of `vectors` (`[count, d]`): all `m` projections as one
    /// BLAS product `[count, d] × Pᵀ` into `projections` (`count · m` floats of scratch), then the sign bits
    /// into `out` (`[count, n_sig]`). The one place vectors are hashed in batches (encoder and scorer).
    public func signatures(
        of vectors: UnsafePointer<Float>, count: Int, projections: UnsafeMutablePointer<Float>,
        into out: UnsafeMutablePointer<UInt8>
    ) {
        let c = config
        guard count > 0 else { return }
        projection.withUnsafeBufferPointer {
            BLAS.gemm(count, c.m, c.d, a: vectors, b: $0.baseAddress!, transposeB: true, into: projections)
        }
        for i in 0..<count {
            SimHash.signatures(fromProjections: projections + i * c.m, m: c.m, tau: c.tau, into: out + i * c.signatures)
        }
    }

    /// The same for an array of rows, 4096 rows per product so the scratch stays small. Returns `[count, n_sig]`.
    public func signatures(ofRows vectors: [Float], count: Int) -> [UInt8] {
        let c = config
        precondition(vectors.count >= count * c.d)
        var out = [UInt8](repeating: 0, count: count * c.signatures)
        let blockRows = 4096
        var projections = [Float](repeating: 0, count: min(count, blockRows) * c.m)
        vectors.withUnsafeBufferPointer { v in
            projections.withUnsafeMutableBufferPointer { p in
                out.withUnsafeMutableBufferPointer { sig in
                    for start in stride(from: 0, to: count, by: blockRows) {
                        signatures(
                            of: v.baseAddress! + start * c.d, count: min(blockRows, count - start),
                            projections: p.baseAddress!,
                            into: sig.baseAddress! + start * c.signatures)
                    }
                }
            }
        }
        return out
    }
}

/// The MLP's input (MODEL.md "Output"): `z = concat(q, u_long, u_short, q ⊙ u_long, q ⊙ u_short)` for `B`
/// rows of width `d` into `[B, 5d]`. Shared by the scorer (Float, without the `q` block) and the trainer
/// (Float, and Double for the gradient checks).
public enum MLPInput {
    @inlinable
    public static func build<T: FloatingPoint>(
        _ B: Int, d: Int, q: UnsafePointer<T>, long: UnsafePointer<T>, short: UnsafePointer<T>,
        into z: UnsafeMutablePointer<T>
    ) {
        for i in 0..<B {
            let zi = z + i * 5 * d, qi = q + i * d, li = long + i * d, si = short + i * d
            zi.update(from: qi, count: d)
            (zi + d).update(from: li, count: d)
            (zi + 2 * d).update(from: si, count: d)
            products(d, q: qi, long: li, short: si, into: zi + 3 * d)
        }
    }

    /// `z` without its `q` block, `[B, 4d]`, for a caller that applies `W_1`'s block on `q` apart: rows
    /// `[u_long, u_short, q ⊙ u_long, q ⊙ u_short]` whose first two blocks are already in place.
    @inlinable
    public static func completeWithoutQ<T: FloatingPoint>(
        _ B: Int, d: Int, q: UnsafePointer<T>, into z: UnsafeMutablePointer<T>
    ) {
        for i in 0..<B {
            let zi = z + i * 4 * d
            products(d, q: q + i * d, long: zi, short: zi + d, into: zi + 2 * d)
        }
    }

    /// `out[0..<d] = q ⊙ long`, `out[d..<2d] = q ⊙ short`.
    @inlinable @inline(__always)
    static func products<T: FloatingPoint>(
        _ d: Int, q: UnsafePointer<T>, long: UnsafePointer<T>, short: UnsafePointer<T>,
        into out: UnsafeMutablePointer<T>
    ) {
        for k in 0..<d {
            out[k] = q[k] * long[k]
            out[d + k] = q[k] * short[k]
        }
    }
}
