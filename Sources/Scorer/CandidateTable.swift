import Model
import Tensors

/// What a request needs of a candidate that depends on the candidate alone, computed once per distinct
/// candidate embedding (item row, category row, text slot) — when the scorer opens, and when an append or a
/// newer record brings a new one — instead of once per request:
///
/// - `W_1[:, 0..<d] · q + b_1`: the first MLP layer's block on the candidate's own vector (`z` starts with
///   `q`, MODEL.md "Output"), a fifth of the request's largest product;
/// - `W_q · q + b_q`: the target attention's query;
/// - the candidate's n_sig signatures (SDIM), stored as floats.
///
/// Entries never change once written: an item whose record changes (an event naming a new category) gets a
/// new entry, so a request holding an older catalog snapshot still reads the entry it was given. Entries live
/// in fixed chunks that are never moved, written under the catalog's lock before the catalog names them.
final class CandidateTable: @unchecked Sendable {
    let h1: Int, da: Int, nSig: Int
    /// Floats per entry: h_1 + d_a + n_sig.
    let width: Int
    private static let chunkShift = 12, chunkMask = (1 << 12) - 1, maximumChunks = 1 << 14
    private let chunks: UnsafeMutablePointer<UnsafeMutablePointer<Float>?>
    /// Entries written (changed under the catalog's lock only).
    private(set) var count = 0

    init(config c: ModelBundle.Config) {
        (h1, da, nSig) = (c.hidden[0], c.attentionDim, c.signatures)
        width = h1 + da + nSig
        chunks = .allocate(capacity: Self.maximumChunks)
        chunks.initialize(repeating: nil, count: Self.maximumChunks)
    }

    deinit {
        for k in 0..<Self.maximumChunks { chunks[k]?.deallocate() }
        chunks.deallocate()
    }

    /// Bytes held (chunks of 4,096 entries).
    var bytes: Int { ((count + Self.chunkMask) >> Self.chunkShift) * (Self.chunkMask + 1) * width * 4 }

    /// The entry of `slot`: `[h_1]` first-layer block, `[d_a]` query, `[n_sig]` signatures.
    @inline(__always)
    func entry(_ slot: Int32) -> UnsafePointer<Float> {
        let s = Int(slot)
        return UnsafePointer(chunks[s >> Self.chunkShift]! + (s & Self.chunkMask) * width)
    }

    /// Writes entries for the `n` candidate vectors `q` (`[n, d]`) and returns the first one's slot; the
    /// others follow it. Runs under the catalog's lock.
    func add(_ q: UnsafePointer<Float>, _ n: Int, model: ModelBundle) -> Int32 {
        let first = count
        precondition(first + n <= Self.maximumChunks << Self.chunkShift, "more than 67 M candidate embeddings")
        let c = model.config, d = c.d, block = 1024
        var firstLayer = [Float](repeating: 0, count: min(n, block) * h1)
        var query = [Float](repeating: 0, count: min(n, block) * da)
        var projections = [Float](repeating: 0, count: min(n, block) * c.m)
        var signatures = [UInt8](repeating: 0, count: min(n, block) * nSig)
        for start in stride(from: 0, to: n, by: block) {
            let rows = min(block, n - start), x = q + start * d
            firstLayer.withUnsafeMutableBufferPointer { a in
                for i in 0..<rows { (a.baseAddress! + i * h1).update(from: model.mlp[0].bias, count: h1) }
                model.mlp[0].weight.withUnsafeBufferPointer { w in
                    BLAS.gemm(
                        rows, h1, d, a: x, b: w.baseAddress!, ldb: 5 * d, transposeB: true, into: a.baseAddress!,
                        accumulate: true)
                }
            }
            query.withUnsafeMutableBufferPointer { a in
                for i in 0..<rows { (a.baseAddress! + i * da).update(from: model.query.bias, count: da) }
                model.query.weight.withUnsafeBufferPointer { w in
                    BLAS.gemm(
                        rows, da, d, a: x, b: w.baseAddress!, transposeB: true, into: a.baseAddress!, accumulate: true)
                }
            }
            model.signatures(of: x, count: rows, projections: &projections, into: &signatures)
            for i in 0..<rows {
                let slot = first + start + i
                if chunks[slot >> Self.chunkShift] == nil {
                    chunks[slot >> Self.chunkShift] = .allocate(capacity: (Self.chunkMask + 1) * width)
                }
                let e = chunks[slot >> Self.chunkShift]! + (slot & Self.chunkMask) * width
                firstLayer.withUnsafeBufferPointer { e.update(from: $0.baseAddress! + i * h1, count: h1) }
                query.withUnsafeBufferPointer { (e + h1).update(from: $0.baseAddress! + i * da, count: da) }
                for g in 0..<nSig { e[h1 + da + g] = Float(signatures[i * nSig + g]) }
            }
        }
        count = first + n
        return Int32(first)
    }
}
