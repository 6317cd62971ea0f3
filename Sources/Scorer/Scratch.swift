import Tensors

typealias FloatBuffer = Buffer<Float>
typealias IntBuffer = Buffer<Int32>

/// Per-request working memory. One request uses one `Scratch` at a time; the scorer keeps a pool of them,
/// so concurrent requests never share one and a warm request allocates nothing.
final class Scratch: @unchecked Sendable {
    var candidates = FloatBuffer()  // [B, d]       q
    var rows = IntBuffer()  // [B, 4]       candidate (item row, category row, text slot, table entry)
    var projections = FloatBuffer()  // [L, m]
    var signatures = Buffer<UInt8>()  // [L, n_sig]      behaviors' (online)
    var candidateSignatures = Buffer<UInt8>()  // [B, n_sig]
    var order = Buffer<Int>()  // [L]          0 ..< L (the rows `SimHash.aggregate` reads)
    var counts = Buffer<UInt32>()  // [n_sig · 2^τ] bucket counts (online; not used by Eq. 12)
    var sums = FloatBuffer()  // [n_sig · 2^τ, d] bucket sums (bse: copied; online: rebuilt)
    var table = FloatBuffer()  // [n_sig · 2^τ, d] normalised bucket vectors / n_sig
    var queries = FloatBuffer()  // [B, d_a]     W_q q + b_q
    var windowRows = IntBuffer()  // [K, 4]       window (item row, category row, text slot, feedback)
    var sequenceRows = IntBuffer()  // [L, 4]       sequence (item row, category row, text slot, feedback)
    var behaviors = FloatBuffer()  // [L, d]       behavior vectors
    var keys = FloatBuffer()  // [L, d_a]
    var values = FloatBuffer()  // [L, d_a]
    var weights = FloatBuffer()  // [block, L]   attention weights
    var heads = FloatBuffer()  // [B, d_a]     concat(o_1 … o_H)
    var z = FloatBuffer()  // [B, 4d]      z without q: u_long, u_short, q⊙u_long, q⊙u_short
    var hidden1 = FloatBuffer()  // [B, h_1]
    var hidden2 = FloatBuffer()  // [B, h_2]

    deinit {
        for b in [
            candidates, projections, sums, table, queries, behaviors, keys, values, weights, heads, z,
            hidden1, hidden2,
        ] {
            b.free()
        }
        rows.free(); signatures.free(); candidateSignatures.free(); order.free(); counts.free(); windowRows.free();
        sequenceRows.free()
    }
}
