import Errors
import Foundation
import Tensors
import Model
import Store
import Synchronization

/// One request, MODEL.md v1 (v2: behaviors carry their feedback row), batched over the B candidates:
///
/// 1. gather `q` for all candidates into `[B, d]`, and from the `CandidateTable` what depends on the
///    candidate alone: its query `W_q q + b_q`, its signatures, its first-layer block `W_1[:, :d] q + b_1`;
/// 2. user side (one read transaction): the window's rows, and — by mode — the bucket sums (`bse`), the
///    sequence's rows (`online`, `full`);
/// 3. `u_long`: Σ_g of the user's normalised bucket vectors at the candidate's signatures (a gather,
///    O(n_sig · d) per candidate); or exact attention over the sequence (`full`);
/// 4. `u_short`: target attention over the window as GEMMs (`Q Kᵀ`, softmax, `· V`, `W_o`);
/// 5. the MLP: the first layer as the candidate's block plus one GEMM over the rest of
///    `z = [q, u_long, u_short, q⊙u_long, q⊙u_short]`, then a GEMM and a dot, then σ.
extension Scorer {
    func forward(
        user: String, candidates: [String], mode: Mode, scratch s: Scratch, into out: UnsafeMutablePointer<Float>
    ) throws {
        let c = model.config
        let B = candidates.count, d = c.d
        // u_long and u_short go straight into their blocks of the MLP input `z` (rows of 4d, `mlp`).
        let z = s.z.ensure(B * 4 * d)
        let view = try self.long(user: user, candidates: candidates, mode: mode, scratch: s, into: z, ld: 4 * d)

        // Short-term interest over the window.
        let w = view.window
        let xw = s.behaviors.ensure(max(w, 1) * d)
        embedRows(s.windowRows.pointer, w, behaviors: true, into: xw)
        attend(B, queries: s.queries.pointer, to: xw, w, scratch: s, into: z + d, ld: 4 * d)

        mlp(B, q: s.candidates.pointer, z: z, scratch: s, into: out)
    }

    /// Steps 1–3: candidates, the user side, and `u_long` into `long` (B rows of d, `ld` apart). Leaves `q` in
    /// `scratch.candidates`, `W_q q + b_q` in `scratch.queries` and the window's rows in `scratch.windowRows`.
    @discardableResult
    func long(
        user: String, candidates: [String], mode: Mode, scratch s: Scratch, into long: UnsafeMutablePointer<Float>,
        ld: Int
    ) throws -> UserView {
        let c = model.config
        let B = candidates.count, d = c.d, da = c.attentionDim
        let q = s.candidates.ensure(B * d)
        gatherCandidates(candidates, scratch: s, into: q)
        let view = try readUser(user, mode: mode, scratch: s)  // everything read inside one snapshot
        let queries = s.queries.pointer
        switch mode {
        case .short:
            zeroRows(long, B, d, ld: ld)
        case .bse, .online:
            longInterest(B, q: q, sums: s.sums.pointer, hasHistory: view.length > 0, scratch: s, into: long, ld: ld)
        case .full:
            let n = view.length
            let x = s.behaviors.ensure(max(n, 1) * d)
            embedRows(s.sequenceRows.pointer, n, behaviors: true, into: x)
            attend(B, queries: queries, to: x, n, scratch: s, into: long, ld: ld)
        }
        return view
    }

    // MARK: Candidates

    /// `q = e(c)` for every candidate: rows from the store's catalog (item row, category row), or the
    /// vocabulary's item row with category 0 for an item the store has not seen, or row 0 if unknown. Their
    /// `CandidateTable` entries give `scratch.queries` (`[B, d_a]`) and `scratch.candidateSignatures`;
    /// the entry of candidate i stays in `scratch.rows[4i + 3]` for the MLP.
    func gatherCandidates(_ candidates: [String], scratch s: Scratch, into q: UnsafeMutablePointer<Float>) {
        let c = model.config, B = candidates.count, da = c.attentionDim, nSig = c.signatures
        let rows = s.rows.ensure(Self.rowStride * B)
        // A snapshot (a reference, no copy): concurrent requests don't queue on the lock. An append that lands
        // while a request holds it copies the dictionary once (copy-on-write) — on the append path, not here.
        let (byId, vocabularySlots) = catalog.withLock { ($0.byId, $0.vocabularySlots) }
        for i in candidates.indices {
            let row = rows + Self.rowStride * i
            if let r = byId[candidates[i]] {
                row[0] = r.item
                row[1] = r.category
                row[2] = r.textSlot
                row[3] = r.entry
            } else {
                let item = model.vocabulary.itemRow(candidates[i])
                row[0] = Int32(item)
                row[1] = 0
                row[2] = 0
                row[3] = vocabularySlots[item]
            }
        }
        embedRows(rows, B, behaviors: false, into: q)
        let queries = s.queries.ensure(B * da), signatures = s.candidateSignatures.ensure(B * nSig)
        let h1 = candidateTable.h1
        for i in 0..<B {
            let e = candidateTable.entry(rows[Self.rowStride * i + 3])
            (queries + i * da).update(from: e + h1, count: da)
            for g in 0..<nSig { signatures[i * nSig + g] = UInt8(e[h1 + da + g]) }
        }
    }

    /// `e(i)` for `n` (item row, category row, text slot, feedback) rows into `[n, d]`; with `behaviors`, the
    /// behavior vectors `s = e(i) + F[feedback]` (v2; the same as `e(i)` in v1).
    func embedRows(_ rows: UnsafePointer<Int32>, _ n: Int, behaviors: Bool, into x: UnsafeMutablePointer<Float>) {
        let c = model.config, d = c.d, k = Self.rowStride
        if c.dText > 0 {
            let parts = catalog.withLock { $0.textParts }
            let offset = c.dItem + c.dCat
            parts.withUnsafeBufferPointer { t in
                for j in 0..<n {
                    model.embed(itemRow: Int(rows[k * j]), categoryRow: Int(rows[k * j + 1]), into: x + j * d)
                    (x + j * d + offset).update(from: t.baseAddress! + Int(rows[k * j + 2]) * c.dText, count: c.dText)
                }
            }
        } else {
            for j in 0..<n {
                model.embed(itemRow: Int(rows[k * j]), categoryRow: Int(rows[k * j + 1]), into: x + j * d)
            }
        }
        if behaviors && c.feedback { for j in 0..<n { model.addFeedback(UInt8(rows[k * j + 3]), to: x + j * d) } }
    }

    // MARK: Long-term interest (SDIM Eq. 12), batched

    /// `u_long[i] = (1/n_sig) Σ_g S_g[sig_g(q_i)] / max(‖·‖, 1e-12)`: the user's 2^τ·n_sig bucket vectors are
    /// normalised once per request, then each candidate gathers n_sig of them. The candidate signatures
    /// are the candidates' (`scratch.candidateSignatures`, from the `CandidateTable`).
    func longInterest(
        _ B: Int, q: UnsafePointer<Float>, sums: UnsafePointer<Float>, hasHistory: Bool, scratch s: Scratch,
        into long: UnsafeMutablePointer<Float>, ld: Int
    ) {
        let c = model.config
        let d = c.d, nSig = c.signatures
        guard hasHistory else { return zeroRows(long, B, d, ld: ld) }
        let nRows = nSig * c.buckets
        let table = s.table.ensure(nRows * d)
        for r in 0..<nRows {
            let row = sums + r * d
            let norm = SimHash.dot(row, row, d).squareRoot()
            let scale: Float = norm == 0 ? 0 : 1 / (max(norm, 1e-12) * Float(nSig))
            for k in 0..<d { table[r * d + k] = row[k] * scale }
        }
        let signatures = s.candidateSignatures.pointer
        withUnsafeTemporaryAllocation(of: Int.self, capacity: nSig) { rows in
            for i in 0..<B {
                for g in 0..<nSig { rows[g] = g * c.buckets + Int(signatures[i * nSig + g]) }
                let u = long + i * ld
                u.update(repeating: 0, count: d)
                Rows.add(rows.baseAddress!, nSig, of: table, d: d, into: u)
            }
        }
    }

    // MARK: Target attention (short-term window; `full` mode over the whole sequence)

    /// `out[i] = W_o · concat_h(Σ_j softmax_j(Q_h,i · K_h,j / √d_h) V_h,j) + b_o` over the `n` behavior vectors
    /// `x` into B rows of d floats `ld` apart; `n = 0` gives 0. Candidates are processed in blocks so the
    /// weights matrix stays ≤ 1 M floats.
    func attend(
        _ B: Int, queries: UnsafePointer<Float>, to x: UnsafePointer<Float>, _ n: Int, scratch s: Scratch,
        into out: UnsafeMutablePointer<Float>, ld: Int
    ) {
        let c = model.config
        let d = c.d, da = c.attentionDim, H = c.heads, dh = da / H
        guard n > 0 else { return zeroRows(out, B, d, ld: ld) }
        let keys = s.keys.ensure(n * da), values = s.values.ensure(n * da)
        fillRows(keys, n, model.key.bias)
        BLAS.gemm(n, da, d, a: x, b: model.key.weight, transposeB: true, into: keys, accumulate: true)
        fillRows(values, n, model.value.bias)
        BLAS.gemm(n, da, d, a: x, b: model.value.weight, transposeB: true, into: values, accumulate: true)
        let heads = s.heads.ensure(B * da)
        let block = max(1, min(B, (1 << 20) / n))
        let weights = s.weights.ensure(block * n)
        let scale = 1 / Float(dh).squareRoot()
        for first in stride(from: 0, to: B, by: block) {
            let rows = min(block, B - first)
            for h in 0..<H {
                BLAS.gemm(
                    rows, n, dh, alpha: scale, a: queries + first * da + h * dh, lda: da,
                    b: keys + h * dh, ldb: da, transposeB: true, into: weights)
                for i in 0..<rows { Attention.softmax(weights + i * n, n) }
                BLAS.gemm(
                    rows, dh, n, a: weights, b: values + h * dh, ldb: da, transposeB: false,
                    into: heads + first * da + h * dh, ldc: da)
            }
        }
        fillRows(out, B, model.output.bias, ld: ld)
        BLAS.gemm(
            B, d, da, a: heads, b: model.output.weight, transposeB: true, into: out, ldc: ld, accumulate: true)
    }

    // MARK: MLP

    /// `p = σ(W_3 ReLU(W_2 ReLU(W_1 z + b_1) + b_2) + b_3)` for all candidates. `W_1 z + b_1` is each
    /// candidate's entry (`W_1[:, :d] q + b_1`) plus one GEMM of the other four blocks of `z`,
    /// `[u_long, u_short, q⊙u_long, q⊙u_short]` (`[B, 4d]`; the first two are there already), against
    /// `W_1[:, d...]`.
    func mlp(
        _ B: Int, q: UnsafePointer<Float>, z: UnsafeMutablePointer<Float>, scratch s: Scratch,
        into out: UnsafeMutablePointer<Float>
    ) {
        let c = model.config
        let d = c.d, h1 = c.hidden[0], h2 = c.hidden[1]
        MLPInput.completeWithoutQ(B, d: d, q: q, into: z)
        let a1 = s.hidden1.ensure(B * h1), a2 = s.hidden2.ensure(B * h2)
        let rows = s.rows.pointer
        for i in 0..<B { (a1 + i * h1).update(from: candidateTable.entry(rows[Self.rowStride * i + 3]), count: h1) }
        model.mlp[0].weight.withUnsafeBufferPointer { w1 in
            BLAS.gemm(
                B, h1, 4 * d, a: z, b: w1.baseAddress! + d, ldb: 5 * d, transposeB: true, into: a1, accumulate: true)
        }
        for k in 0..<(B * h1) { a1[k] = max(a1[k], 0) }  // branch-free: vectorised
        fillRows(a2, B, model.mlp[1].bias)
        BLAS.gemm(B, h2, h1, a: a1, b: model.mlp[1].weight, transposeB: true, into: a2, accumulate: true)
        for k in 0..<(B * h2) { a2[k] = max(a2[k], 0) }
        model.mlp[2].weight.withUnsafeBufferPointer { w3 in
            let b3 = model.mlp[2].bias[0]
            for i in 0..<B {
                let logit = SimHash.dot(a2 + i * h2, w3.baseAddress!, h2) + b3
                out[i] = 1 / (1 + expf(-logit))
            }
        }
    }

    /// Every row of `[n, bias.count]` (rows `ld` apart, default packed) set to `bias` (the GEMM then
    /// accumulates onto it).
    @inline(__always)
    func fillRows(_ m: UnsafeMutablePointer<Float>, _ n: Int, _ bias: [Float], ld: Int? = nil) {
        bias.withUnsafeBufferPointer { b in
            for i in 0..<n { (m + i * (ld ?? b.count)).update(from: b.baseAddress!, count: b.count) }
        }
    }

    /// `n` rows of `width` zeros, `ld` apart.
    @inline(__always)
    func zeroRows(_ m: UnsafeMutablePointer<Float>, _ n: Int, _ width: Int, ld: Int) {
        for i in 0..<n { (m + i * ld).update(repeating: 0, count: width) }
    }
}
