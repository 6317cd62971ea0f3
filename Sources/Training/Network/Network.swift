import Tensors
import Model

/// The long-term interest a model learns: SDIM (Eq. 12, the product), exact attention over the whole history
/// (the DIN-long baseline, scored with the `full` mode) or none (the short-only baseline, `short` mode).
public enum LongTerm: String, CaseIterable, Sendable {
    case sdim, full, none
}

/// MODEL.md v1 (and v2, v1 with behavior feedback), forward and backward, over a batch of samples.
///
/// Atoms first (BAHE): the batch's distinct items are embedded once, `e(i)` into `E [n_atoms, d]`, and their
/// signatures come from one product `E Pᵀ`. The distinct (item, feedback) pairs of the histories are the
/// batch's behaviors, `s = e(i) + F[feedback]` into `S [n_behaviors, d]` (v1: `s = e(i)`), and their keys and
/// values come from one product each over `S`. Samples then refer to atoms and behaviors by index: the
/// candidate `q` (an atom), the window (last K of the history) and, for SDIM and full attention, the whole
/// history (behaviors). Backward runs the same steps in reverse and scatters `dS` into `dE` and `dF`, then
/// `dE` into the embedding rows the batch touched (sparse), the text projection and the dense layers.
///
/// - SDIM: signatures are step functions of `e`, so no gradient flows through them (the projection is
///   fixed); the gradient of `u_long` flows through the ℓ2 normalisation into every history vector that
///   shares the candidate's bucket.
/// - SDIM in one causal pass per user (the default): the batch's samples of a user are visited in sequence
///   order while running bucket sums per (signature, bucket) take in the user's behaviors one by one, so a
///   sample reads the sums of the positions before it in O(n_sig · d), whatever its history's length. The
///   backward pass walks the same positions in reverse with running sums of the gradients the later samples
///   send to each bucket, so each behavior's gradient is O(n_sig · d) too. Same sums in the same order as
///   the per-sample gather (`causal = false`, kept as the reference), hence the same forward to the bit.
final class Network<T: TrainingScalar> {
    let c: ModelBundle.Config
    let long: LongTerm
    let data: TrainingSet
    let projection: [T]  // [m, d], fixed
    let texts: [T]  // [n_texts, 384], frozen atoms
    let off: [Int]  // tensor offsets in the parameter array (`Parameters.Tensor` order)
    let d: Int, da: Int, heads: Int, dh: Int, h1: Int, h2: Int, nSig: Int, window: Int
    let scale: T

    // Atoms of the current batch.
    private var localOf: [Int32]  // item row → atom index, −1 when not in the batch
    private(set) var atoms: [Int32] = []  // atom index → item row
    // Behaviors of the current batch: distinct (item row, feedback) pairs of the histories.
    private var behaviorOf: [Int32]  // item row · 3 + feedback → behavior index, −1 when not in the batch
    private var behaviorKeys: [Int32] = []  // behavior index → item row · 3 + feedback
    private var behaviorAtom: [Int32] = []  // behavior index → atom index of its item
    private var behaviorFeedback: [UInt8] = []
    // Samples of the current batch: candidate atom, and history behaviors in `entries[start ..< start + count]`
    // (the whole history for sdim/full, the window only for none; the window is always the last `windowCount`).
    private var candidate: [Int32] = [], labels: [T] = []
    private var entryStart: [Int] = [], entryCount: [Int] = [], windowCount: [Int] = []
    private var entries: [Int32] = []
    private var alphaShortStart: [Int] = []
    var batchSize = 0
    private var longestHistory = 0
    /// SDIM through running bucket sums per user (O(n_sig·d) per sample); false: each sample gathers its whole
    /// history (O(L) per sample), the reference the tests compare with.
    var causal = true
    // The causal pass: per user of the batch, the behaviors of positions 0 ..< walkLength (the history of its
    // last sample) in `walk[walkStart ..< walkStart + walkLength]`, and its samples by position in
    // `walkSamples[samplesStart ..< samplesStart + samplesCount]`.
    private struct Walk {
        var walkStart: Int, walkLength: Int, samplesStart: Int, samplesCount: Int
    }
    private var walks: [Walk] = []
    private var walk: [Int32] = [], walkSamples: [Int32] = [], samplePosition: [Int32] = []
    /// Where each sample's history starts in `walk` (full attention reads `walk[start ..< start + position]`).
    private var sampleWalkStart: [Int] = []
    private var running = Buffer<T>()  // [n_sig · 2^τ, d] bucket sums (forward) or bucket gradients (backward)

    // Forward state.
    private var E = Buffer<T>(), S = Buffer<T>(), keys = Buffer<T>(), values = Buffer<T>(), projections = Buffer<T>()
    private var signatures = Buffer<UInt8>()
    private var q = Buffer<T>(), queries = Buffer<T>()
    private var headsShort = Buffer<T>(), uShort = Buffer<T>(), alphaShort = Buffer<T>()
    private var headsLong = Buffer<T>(), uLong = Buffer<T>(), alphaLong = Buffer<T>()
    private var gathered = Buffer<T>(), norms = Buffer<T>()
    private var z = Buffer<T>(), a1 = Buffer<T>(), a2 = Buffer<T>()
    /// σ(logit) of the last forward pass, one per sample.
    private(set) var predictions = Buffer<T>()
    private var logits = Buffer<T>()

    // Backward state.
    private var dE = Buffer<T>(), dS = Buffer<T>(), dKeys = Buffer<T>(), dValues = Buffer<T>(), dQueries = Buffer<T>(),
        dq = Buffer<T>()
    private var dHeads = Buffer<T>(), dUShort = Buffer<T>(), dULong = Buffer<T>(), dGathered = Buffer<T>()
    private var dz = Buffer<T>(), da1 = Buffer<T>(), da2 = Buffer<T>(), textRows = Buffer<T>()
    private var dGatheredAll = Buffer<T>()  // [B, n_sig, d] for the causal backward
    private var headsScratch = Buffer<T>()  // [d_a]: full attention's output when its weights are recomputed

    init(config: ModelBundle.Config, long: LongTerm, data: TrainingSet, projection: [Float], offsets: [Int]) {
        c = config
        self.long = long
        self.data = data
        self.projection = projection.map { T($0) }
        texts = data.texts.map { T($0) }
        off = offsets
        d = c.d; da = c.attentionDim; heads = c.heads; dh = c.attentionDim / c.heads
        h1 = c.hidden[0]; h2 = c.hidden[1]; nSig = c.signatures; window = c.window
        scale = 1 / T(dh).squareRoot()
        localOf = [Int32](repeating: -1, count: data.categoryOfItem.count)
        behaviorOf = [Int32](repeating: -1, count: data.categoryOfItem.count * Feedback.count)
    }

    deinit {
        for b in [
            E, S, dS, keys, values, projections, q, queries, headsShort, uShort, alphaShort, headsLong, uLong,
            alphaLong,
            gathered, norms, z, a1, a2, predictions, logits, dE, dKeys, dValues, dQueries, dq, dHeads, dUShort,
            dULong, dGathered, dz, da1, da2, textRows, running, dGatheredAll, headsScratch,
        ] { b.free() }
        signatures.free()
    }

    // MARK: Forward

    /// Runs the batch; returns the mean binary cross-entropy (natural log). `predictions` holds σ(logit).
    @discardableResult
    func forward(_ batch: UnsafeBufferPointer<TrainingSet.Sample>, parameters w: UnsafePointer<T>) -> Double {
        gatherAtoms(batch)
        let B = batchSize, nb = behaviorKeys.count
        embedAtoms(w)
        embedBehaviors(w)
        if long == .sdim { hashAtoms() }
        linear(nb, S.pointer, .keyWeight, .keyBias, w, outputs: da, inputs: d, into: keys.ensure(max(nb, 1) * da))
        linear(nb, S.pointer, .valueWeight, .valueBias, w, outputs: da, inputs: d, into: values.ensure(max(nb, 1) * da))
        let qp = q.ensure(B * d)
        for i in 0..<B { (qp + i * d).update(from: E.pointer + Int(candidate[i]) * d, count: d) }
        linear(B, qp, .queryWeight, .queryBias, w, outputs: da, inputs: d, into: queries.ensure(B * da))

        // u_short: target attention over the window.
        let hs = headsShort.ensure(B * da)
        hs.update(repeating: 0, count: B * da)  // rows without a window stay 0 (backward multiplies by them)
        let alphaS = alphaShort.ensure(max(alphaShortStart[B], 1))
        for i in 0..<B where windowCount[i] > 0 {
            let first = entryStart[i] + entryCount[i] - windowCount[i]
            entries.withUnsafeBufferPointer { ent in
                attend(
                    i, ent.baseAddress! + first, count: windowCount[i], alpha: alphaS + alphaShortStart[i],
                    into: hs + i * da)
            }
        }
        project(B, heads: hs, w, into: uShort.ensure(B * d), present: { self.windowCount[$0] > 0 })

        // u_long.
        let ul = uLong.ensure(B * d)
        switch long {
        case .none:
            ul.update(repeating: 0, count: B * d)
        case .full:
            let hl = headsLong.ensure(B * da)
            hl.update(repeating: 0, count: B * da)
            // One sample's weights at a time (recomputed in backward): nothing of size B × L is kept.
            let alphaL = alphaLong.ensure(max(longestHistory, 1) * heads)
            walk.withUnsafeBufferPointer { wk in
                for i in 0..<B where samplePosition[i] > 0 {
                    attend(
                        i, wk.baseAddress! + sampleWalkStart[i], count: Int(samplePosition[i]), alpha: alphaL,
                        into: hl + i * da)
                }
            }
            project(B, heads: hl, w, into: ul, present: { self.samplePosition[$0] > 0 })
        case .sdim:
            if causal { sdimCausalForward(B, into: ul) } else { sdimForward(B, into: ul) }
        }

        return mlpForward(B, w)
    }

    /// The batch's samples resolved to atoms and behaviors: every distinct item the batch reads becomes one row
    /// of `E`, every distinct (item, feedback) of its histories one row of `S`.
    private func gatherAtoms(_ batch: UnsafeBufferPointer<TrainingSet.Sample>) {
        for r in atoms { localOf[Int(r)] = -1 }
        for k in behaviorKeys { behaviorOf[Int(k)] = -1 }
        atoms.removeAll(keepingCapacity: true)
        behaviorKeys.removeAll(keepingCapacity: true); behaviorAtom.removeAll(keepingCapacity: true)
        behaviorFeedback.removeAll(keepingCapacity: true)
        candidate.removeAll(keepingCapacity: true); labels.removeAll(keepingCapacity: true)
        entryStart.removeAll(keepingCapacity: true); entryCount.removeAll(keepingCapacity: true)
        windowCount.removeAll(keepingCapacity: true); entries.removeAll(keepingCapacity: true)
        alphaShortStart.removeAll(keepingCapacity: true)
        walks.removeAll(keepingCapacity: true); walk.removeAll(keepingCapacity: true)
        walkSamples.removeAll(keepingCapacity: true); samplePosition.removeAll(keepingCapacity: true)
        sampleWalkStart.removeAll(keepingCapacity: true)
        batchSize = batch.count
        func atom(_ row: Int32) -> Int32 {
            if localOf[Int(row)] < 0 {
                localOf[Int(row)] = Int32(atoms.count)
                atoms.append(row)
            }
            return localOf[Int(row)]
        }
        let withFeedback = c.feedback
        func behavior(_ row: Int32, _ feedback: UInt8) -> Int32 {
            let f = withFeedback ? feedback : 0, key = Int(row) * Feedback.count + Int(f)
            if behaviorOf[key] < 0 {
                behaviorOf[key] = Int32(behaviorKeys.count)
                behaviorKeys.append(Int32(key))
                behaviorAtom.append(atom(row))
                behaviorFeedback.append(f)
            }
            return behaviorOf[key]
        }
        var aS = 0
        data.items.withUnsafeBufferPointer { items in
            for s in batch {
                candidate.append(atom(data.candidate(s)))
                labels.append(s.label ? 1 : 0)
                let h = data.history(s)
                let w = min(window, h.count)
                let kept = long == .sdim && !causal ? h : (h.upperBound - w)..<h.upperBound
                entryStart.append(entries.count)
                entryCount.append(kept.count)
                windowCount.append(w)
                for j in kept { entries.append(behavior(items[j], data.feedback[j])) }
                alphaShortStart.append(aS)
                aS += w * heads
            }
        }
        alphaShortStart.append(aS)
        for s in batch { samplePosition.append(s.position) }
        longestHistory = batch.map { Int($0.position) }.max() ?? 0
        guard long == .full || (long == .sdim && causal) else { return }
        // The walks: samples grouped by user, by position within a user.
        sampleWalkStart = [Int](repeating: 0, count: batch.count)
        walkSamples = (0..<Int32(batch.count)).map { $0 }
        walkSamples.sort { a, b in
            let sa = batch[Int(a)], sb = batch[Int(b)]
            return sa.user != sb.user ? sa.user < sb.user : sa.position < sb.position
        }
        data.items.withUnsafeBufferPointer { items in
            var first = 0
            while first < walkSamples.count {
                let user = batch[Int(walkSamples[first])].user
                var end = first + 1
                while end < walkSamples.count, batch[Int(walkSamples[end])].user == user { end += 1 }
                let last = batch[Int(walkSamples[end - 1])]
                let h = data.history(last)
                walks.append(
                    Walk(walkStart: walk.count, walkLength: h.count, samplesStart: first, samplesCount: end - first))
                for k in first..<end { sampleWalkStart[Int(walkSamples[k])] = walk.count }
                for j in h { walk.append(behavior(items[j], data.feedback[j])) }
                first = end
            }
        }
    }

    /// `E[a] = e(atoms[a])`: item row, category row and `W_t x + b_t` (the same arithmetic, in the same order,
    /// as `ModelBundle.projectText`, so a trained bundle hashes its items exactly as the encoder does).
    private func embedAtoms(_ w: UnsafePointer<T>) {
        let n = atoms.count, dItem = c.dItem, dCat = c.dCat, dText = c.dText
        let e = E.ensure(max(n, 1) * d)
        texts.withUnsafeBufferPointer { x in
            for a in 0..<n {
                let r = Int(atoms[a]), row = e + a * d
                row.update(from: w + off[0] + r * dItem, count: dItem)
                (row + dItem).update(from: w + off[1] + Int(data.categoryOfItem[r]) * dCat, count: dCat)
                guard dText > 0 else { continue }
                let slot = Int(data.textOfItem[r])
                let weight = w + off[Parameters<T>.Tensor.textWeight.rawValue],
                    bias = w + off[Parameters<T>.Tensor.textBias.rawValue]
                for k in 0..<dText {
                    var s = bias[k]
                    if slot >= 0 {
                        let xr = x.baseAddress! + slot * 384, wr = weight + k * 384
                        for j in 0..<384 { s += wr[j] * xr[j] }
                    }
                    row[dItem + dCat + k] = s
                }
            }
        }
    }

    /// `S[b] = e(item) + F[feedback]` for every behavior of the batch (v1: `e(item)`).
    private func embedBehaviors(_ w: UnsafePointer<T>) {
        let nb = behaviorKeys.count, s = S.ensure(max(nb, 1) * d), e = E.pointer
        let f = w + off[Parameters<T>.Tensor.feedback.rawValue]
        for b in 0..<nb {
            let row = s + b * d
            row.update(from: e + Int(behaviorAtom[b]) * d, count: d)
            guard c.feedback else { continue }
            let fr = f + Int(behaviorFeedback[b]) * d
            for k in 0..<d { row[k] += fr[k] }
        }
    }

    /// Signatures of every atom: one product `E Pᵀ`, then the sign bits (MODEL.md: a tie is 0).
    private func hashAtoms() {
        let n = atoms.count, m = c.m, tau = c.tau
        let p = projections.ensure(max(n, 1) * m), sig = signatures.ensure(max(n, 1) * nSig)
        projection.withUnsafeBufferPointer { P in
            T.gemm(
                transposeA: false, transposeB: true, n, m, d, a: E.pointer, lda: d, b: P.baseAddress!, ldb: d, beta: 0,
                c: p, ldc: m)
        }
        for a in 0..<n {
            for g in 0..<nSig {
                var bucket: UInt8 = 0
                for t in 0..<tau where p[a * m + g * tau + t] > 0 { bucket |= 1 << t }
                sig[a * nSig + g] = bucket
            }
        }
    }

    /// Per head: `α = softmax(Q_h · K_h,j / √d_h)` over the given atoms, `o_h = Σ α_j V_h,j`.
    private func attend(
        _ i: Int, _ list: UnsafePointer<Int32>, count n: Int, alpha: UnsafeMutablePointer<T>,
        into o: UnsafeMutablePointer<T>
    ) {
        let qi = queries.pointer + i * da, K = keys.pointer, V = values.pointer
        for h in 0..<heads {
            let qh = qi + h * dh, ah = alpha + h * n, oh = o + h * dh
            var top = -T.infinity
            for j in 0..<n {
                let s = scale * dot(qh, K + Int(list[j]) * da + h * dh, dh)
                ah[j] = s
                if s > top { top = s }
            }
            var total: T = 0
            for j in 0..<n {
                ah[j] = T.exp(ah[j] - top)
                total += ah[j]
            }
            oh.update(repeating: 0, count: dh)
            for j in 0..<n {
                ah[j] /= total
                let vj = V + Int(list[j]) * da + h * dh
                for k in 0..<dh { oh[k] += ah[j] * vj[k] }
            }
        }
    }

    /// `u = W_o · heads + b_o` for the rows that have something to attend to; 0 for the others (MODEL.md).
    private func project(
        _ B: Int, heads hs: UnsafePointer<T>, _ w: UnsafePointer<T>, into u: UnsafeMutablePointer<T>,
        present: (Int) -> Bool
    ) {
        linear(B, hs, .outputWeight, .outputBias, w, outputs: d, inputs: da, into: u)
        for i in 0..<B where !present(i) { (u + i * d).update(repeating: 0, count: d) }
    }

    /// Eq. 12 per sample: for each signature, the sum of the history vectors in the candidate's bucket,
    /// ℓ2-normalised; the mean over signatures (an empty bucket adds 0).
    private func sdimForward(_ B: Int, into ul: UnsafeMutablePointer<T>) {
        let G = gathered.ensure(B * nSig * d), N = norms.ensure(B * nSig)
        let sig = signatures.pointer, e = S.pointer
        G.update(repeating: 0, count: B * nSig * d)
        entries.withUnsafeBufferPointer { ent in
            for i in 0..<B {
                let cs = sig + Int(candidate[i]) * nSig, Gi = G + i * nSig * d
                for j in entryStart[i]..<(entryStart[i] + entryCount[i]) {
                    let l = Int(ent[j]), sj = sig + Int(behaviorAtom[l]) * nSig, ej = e + l * d
                    for g in 0..<nSig where sj[g] == cs[g] {
                        let s = Gi + g * d
                        for k in 0..<d { s[k] += ej[k] }
                    }
                }
                normaliseAndAverage(i, G: G, N: N, into: ul + i * d)
            }
        }
    }

    /// Eq. 12 for every sample from running bucket sums: per user, positions in order; a sample at position p
    /// takes the sums of positions < p in its candidate's buckets, then behavior p is added to its buckets.
    private func sdimCausalForward(_ B: Int, into ul: UnsafeMutablePointer<T>) {
        let buckets = c.buckets
        let G = gathered.ensure(B * nSig * d), N = norms.ensure(B * nSig), R = running.ensure(nSig * buckets * d)
        let sig = signatures.pointer, e = S.pointer
        for wk in walks {
            R.update(repeating: 0, count: nSig * buckets * d)
            var next = wk.samplesStart
            let end = wk.samplesStart + wk.samplesCount
            for p in 0...wk.walkLength {
                while next < end, Int(samplePosition[Int(walkSamples[next])]) == p {
                    let i = Int(walkSamples[next]), cs = sig + Int(candidate[i]) * nSig, Gi = G + i * nSig * d
                    for g in 0..<nSig { (Gi + g * d).update(from: R + (g * buckets + Int(cs[g])) * d, count: d) }
                    next += 1
                }
                guard p < wk.walkLength else { break }
                let l = Int(walk[wk.walkStart + p]), sl = sig + Int(behaviorAtom[l]) * nSig, el = e + l * d
                for g in 0..<nSig {
                    let r = R + (g * buckets + Int(sl[g])) * d
                    for k in 0..<d { r[k] += el[k] }
                }
            }
        }
        for i in 0..<B { normaliseAndAverage(i, G: G, N: N, into: ul + i * d) }
    }

    /// `u = (1/n_sig) Σ_g G_g / ‖G_g‖` (an empty bucket adds 0), keeping the norms for backward.
    @inline(__always)
    private func normaliseAndAverage(
        _ i: Int, G: UnsafePointer<T>, N: UnsafeMutablePointer<T>, into u: UnsafeMutablePointer<T>
    ) {
        let Gi = G + i * nSig * d
        u.update(repeating: 0, count: d)
        for g in 0..<nSig {
            let s = Gi + g * d
            let norm = dot(s, s, d).squareRoot()
            N[i * nSig + g] = norm
            guard norm > 0 else { continue }
            let f = 1 / (max(norm, T(1e-12)) * T(nSig))
            for k in 0..<d { u[k] += s[k] * f }
        }
    }

    /// `d u / d G_g` for one sample into `out` (`[n_sig, d]`): `(I − ŝŝᵀ)/(‖s‖ n_sig)`; 0 for an empty bucket.
    @inline(__always)
    private func bucketGradients(_ i: Int, dLong du: UnsafePointer<T>, into out: UnsafeMutablePointer<T>) {
        let G = gathered.pointer, N = norms.pointer
        for g in 0..<nSig {
            let s = G + (i * nSig + g) * d, norm = N[i * nSig + g], o = out + g * d
            guard norm > 0 else { o.update(repeating: 0, count: d); continue }
            if norm > T(1e-12) {
                let along = dot(s, du, d) / (norm * norm), f = 1 / (norm * T(nSig))
                for k in 0..<d { o[k] = (du[k] - s[k] * along) * f }
            } else {
                for k in 0..<d { o[k] = du[k] / (T(1e-12) * T(nSig)) }
            }
        }
    }

    /// Backward of the causal pass: per user, positions in reverse; running sums per (signature, bucket) hold the
    /// bucket gradients of the samples after the position, and behavior p receives those of its own buckets.
    private func sdimCausalBackward(_ B: Int, dLong gl: UnsafePointer<T>, into gsb: UnsafeMutablePointer<T>) {
        let buckets = c.buckets
        let dG = dGatheredAll.ensure(B * nSig * d), A = running.ensure(nSig * buckets * d)
        for i in 0..<B { bucketGradients(i, dLong: gl + i * d, into: dG + i * nSig * d) }
        let sig = signatures.pointer
        for wk in walks {
            A.update(repeating: 0, count: nSig * buckets * d)
            var next = wk.samplesStart + wk.samplesCount - 1
            for p in stride(from: wk.walkLength, through: 0, by: -1) {
                if p < wk.walkLength {
                    let l = Int(walk[wk.walkStart + p]), sl = sig + Int(behaviorAtom[l]) * nSig, row = gsb + l * d
                    for g in 0..<nSig {
                        let a = A + (g * buckets + Int(sl[g])) * d
                        for k in 0..<d { row[k] += a[k] }
                    }
                }
                while next >= wk.samplesStart, Int(samplePosition[Int(walkSamples[next])]) == p {
                    let i = Int(walkSamples[next]), cs = sig + Int(candidate[i]) * nSig, dGi = dG + i * nSig * d
                    for g in 0..<nSig {
                        let a = A + (g * buckets + Int(cs[g])) * d, src = dGi + g * d
                        for k in 0..<d { a[k] += src[k] }
                    }
                    next -= 1
                }
            }
        }
    }

    /// `z = [q, u_long, u_short, q ⊙ u_long, q ⊙ u_short]` → ReLU → ReLU → logit → σ; the mean BCE.
    private func mlpForward(_ B: Int, _ w: UnsafePointer<T>) -> Double {
        let zp = z.ensure(B * 5 * d)
        MLPInput.build(B, d: d, q: q.pointer, long: uLong.pointer, short: uShort.pointer, into: zp)
        let x1 = a1.ensure(B * h1), x2 = a2.ensure(B * h2)
        linear(B, zp, .mlp0Weight, .mlp0Bias, w, outputs: h1, inputs: 5 * d, into: x1)
        for k in 0..<(B * h1) where x1[k] < 0 { x1[k] = 0 }
        linear(B, x1, .mlp1Weight, .mlp1Bias, w, outputs: h2, inputs: h1, into: x2)
        for k in 0..<(B * h2) where x2[k] < 0 { x2[k] = 0 }
        let w3 = w + off[Parameters<T>.Tensor.mlp2Weight.rawValue], b3 = w[off[Parameters<T>.Tensor.mlp2Bias.rawValue]]
        let lg = logits.ensure(B), p = predictions.ensure(B)
        var loss = 0.0
        for i in 0..<B {
            let l = dot(x2 + i * h2, w3, h2) + b3
            lg[i] = l
            p[i] = 1 / (1 + T.exp(-l))
            // BCE from the logit, stable for large |l|: max(l, 0) − l·y + log(1 + e^{−|l|}).
            let y = labels[i]
            loss += Double(max(l, 0) - l * y + T.log(1 + T.exp(-abs(l))))
        }
        return loss / Double(max(B, 1))
    }

    // MARK: Backward

    /// Gradients of the last forward pass's mean loss, added to `g` (laid out like the parameters). Only the
    /// embedding rows of this batch's atoms (and their categories) are written in the tables.
    func backward(parameters w: UnsafePointer<T>, gradients g: UnsafeMutablePointer<T>) {
        let B = batchSize, n = atoms.count, nb = behaviorKeys.count
        typealias P = Parameters<T>.Tensor

        // Loss → logit → MLP.
        let gz = dz.ensure(B * 5 * d), g1 = da1.ensure(B * h1), g2 = da2.ensure(B * h2)
        let w3 = w + off[P.mlp2Weight.rawValue], x2 = a2.pointer, x1 = a1.pointer
        for i in 0..<B {
            let dl = (predictions.pointer[i] - labels[i]) / T(B)
            g[off[P.mlp2Bias.rawValue]] += dl
            for k in 0..<h2 {
                g[off[P.mlp2Weight.rawValue] + k] += dl * x2[i * h2 + k]
                g2[i * h2 + k] = x2[i * h2 + k] > 0 ? dl * w3[k] : 0
            }
        }
        linearBackward(B, x: x1, dy: g2, .mlp1Weight, .mlp1Bias, w, g, outputs: h2, inputs: h1, dx: g1)
        for k in 0..<(B * h1) where x1[k] <= 0 { g1[k] = 0 }
        linearBackward(B, x: z.pointer, dy: g1, .mlp0Weight, .mlp0Bias, w, g, outputs: h1, inputs: 5 * d, dx: gz)

        // z → q, u_long, u_short.
        let gq = dq.ensure(B * d), gl = dULong.ensure(B * d), gs = dUShort.ensure(B * d)
        let qp = q.pointer, ul = uLong.pointer, us = uShort.pointer
        for i in 0..<B {
            let zi = gz + i * 5 * d
            for k in 0..<d {
                let qk = qp[i * d + k]
                gq[i * d + k] = zi[k] + zi[3 * d + k] * ul[i * d + k] + zi[4 * d + k] * us[i * d + k]
                gl[i * d + k] = zi[d + k] + zi[3 * d + k] * qk
                gs[i * d + k] = zi[2 * d + k] + zi[4 * d + k] * qk
            }
        }

        let ge = dE.ensure(max(n, 1) * d), gsb = dS.ensure(max(nb, 1) * d)
        let gk = dKeys.ensure(max(nb, 1) * da), gv = dValues.ensure(max(nb, 1) * da)
        let gQ = dQueries.ensure(B * da), gh = dHeads.ensure(B * da)
        ge.update(repeating: 0, count: n * d)
        gsb.update(repeating: 0, count: nb * d)
        gk.update(repeating: 0, count: nb * da)
        gv.update(repeating: 0, count: nb * da)
        gQ.update(repeating: 0, count: B * da)

        // u_short → W_o, heads → attention over the window.
        for i in 0..<B where windowCount[i] == 0 { (gs + i * d).update(repeating: 0, count: d) }
        linearBackward(
            B, x: headsShort.pointer, dy: gs, .outputWeight, .outputBias, w, g, outputs: d, inputs: da, dx: gh)
        for i in 0..<B where windowCount[i] > 0 {
            let first = entryStart[i] + entryCount[i] - windowCount[i]
            entries.withUnsafeBufferPointer { ent in
                attendBackward(
                    i, ent.baseAddress! + first, count: windowCount[i], alpha: alphaShort.pointer + alphaShortStart[i],
                    dOut: gh + i * da, dQuery: gQ + i * da, dKeys: gk, dValues: gv)
            }
        }

        // u_long.
        switch long {
        case .none: break
        case .full:
            for i in 0..<B where samplePosition[i] == 0 { (gl + i * d).update(repeating: 0, count: d) }
            linearBackward(
                B, x: headsLong.pointer, dy: gl, .outputWeight, .outputBias, w, g, outputs: d, inputs: da, dx: gh)
            let alphaL = alphaLong.pointer, scratch = headsScratch.ensure(da)
            walk.withUnsafeBufferPointer { wk in
                for i in 0..<B where samplePosition[i] > 0 {
                    let list = wk.baseAddress! + sampleWalkStart[i], n = Int(samplePosition[i])
                    attend(i, list, count: n, alpha: alphaL, into: scratch)  // the weights again
                    attendBackward(
                        i, list, count: n, alpha: alphaL, dOut: gh + i * da, dQuery: gQ + i * da, dKeys: gk,
                        dValues: gv)
                }
            }
        case .sdim:
            if causal { sdimCausalBackward(B, dLong: gl, into: gsb) } else { sdimBackward(B, dLong: gl, into: gsb) }
        }

        // Queries → E; keys, values → S → E and F.
        linearBackward(
            B, x: qp, dy: gQ, .queryWeight, .queryBias, w, g, outputs: da, inputs: d, dx: gq, accumulate: true)
        for i in 0..<B {
            let row = ge + Int(candidate[i]) * d, src = gq + i * d
            for k in 0..<d { row[k] += src[k] }
        }
        if nb > 0 {
            linearBackward(
                nb, x: S.pointer, dy: gk, .keyWeight, .keyBias, w, g, outputs: da, inputs: d, dx: gsb, accumulate: true)
            linearBackward(
                nb, x: S.pointer, dy: gv, .valueWeight, .valueBias, w, g, outputs: da, inputs: d, dx: gsb,
                accumulate: true)
        }
        let gf = g + off[P.feedback.rawValue]
        for b in 0..<nb {
            let src = gsb + b * d, row = ge + Int(behaviorAtom[b]) * d
            for k in 0..<d { row[k] += src[k] }
            guard c.feedback else { continue }
            let fr = gf + Int(behaviorFeedback[b]) * d
            for k in 0..<d { fr[k] += src[k] }
        }

        scatterAtoms(ge, g)
    }

    /// Backward of `attend` for one sample: adds to `dQuery` and to the keys and values of its atoms.
    private func attendBackward(
        _ i: Int, _ list: UnsafePointer<Int32>, count n: Int, alpha: UnsafePointer<T>, dOut: UnsafePointer<T>,
        dQuery: UnsafeMutablePointer<T>, dKeys gk: UnsafeMutablePointer<T>, dValues gv: UnsafeMutablePointer<T>
    ) {
        let qi = queries.pointer + i * da, K = keys.pointer, V = values.pointer
        for h in 0..<heads {
            let ah = alpha + h * n, doh = dOut + h * dh, qh = qi + h * dh, dqh = dQuery + h * dh
            // dα_j = do · V_j; Σ_j α_j dα_j for the softmax.
            var mean: T = 0
            for j in 0..<n { mean += ah[j] * dot(doh, V + Int(list[j]) * da + h * dh, dh) }
            for j in 0..<n {
                let l = Int(list[j]), vj = V + l * da + h * dh, kj = K + l * da + h * dh
                let ds = ah[j] * (dot(doh, vj, dh) - mean) * scale
                let gvj = gv + l * da + h * dh, gkj = gk + l * da + h * dh
                for k in 0..<dh {
                    gvj[k] += ah[j] * doh[k]
                    dqh[k] += ds * kj[k]
                    gkj[k] += ds * qh[k]
                }
            }
        }
    }

    /// Backward of Eq. 12: `d(s/‖s‖) = (I − ŝŝᵀ)/‖s‖`, then every history vector in the bucket receives the
    /// bucket's gradient (signatures are constant).
    private func sdimBackward(_ B: Int, dLong gl: UnsafePointer<T>, into gsb: UnsafeMutablePointer<T>) {
        let N = norms.pointer, dG = dGathered.ensure(nSig * d)
        let sig = signatures.pointer
        entries.withUnsafeBufferPointer { ent in
            for i in 0..<B where entryCount[i] > 0 {
                let cs = sig + Int(candidate[i]) * nSig
                bucketGradients(i, dLong: gl + i * d, into: dG)
                for j in entryStart[i]..<(entryStart[i] + entryCount[i]) {
                    let l = Int(ent[j]), sj = sig + Int(behaviorAtom[l]) * nSig, row = gsb + l * d
                    for g in 0..<nSig where sj[g] == cs[g] && N[i * nSig + g] > 0 {
                        let src = dG + g * d
                        for k in 0..<d { row[k] += src[k] }
                    }
                }
            }
        }
    }

    /// `dE` into the item and category rows of the atoms and into the text projection.
    private func scatterAtoms(_ ge: UnsafePointer<T>, _ g: UnsafeMutablePointer<T>) {
        let n = atoms.count, dItem = c.dItem, dCat = c.dCat, dText = c.dText
        for a in 0..<n {
            let r = Int(atoms[a]), src = ge + a * d
            let gi = g + off[0] + r * dItem, gc = g + off[1] + Int(data.categoryOfItem[r]) * dCat
            for k in 0..<dItem { gi[k] += src[k] }
            for k in 0..<dCat { gc[k] += src[dItem + k] }
        }
        guard dText > 0 else { return }
        typealias P = Parameters<T>.Tensor
        // d b_t = Σ_a dE_text[a]; d W_t += dE_textᵀ X (X: the atoms' text vectors, 0 for an item without text).
        let gb = g + off[P.textBias.rawValue]
        for a in 0..<n { for k in 0..<dText { gb[k] += ge[a * d + dItem + dCat + k] } }
        let X = textRows.ensure(max(n, 1) * 384)
        texts.withUnsafeBufferPointer { x in
            for a in 0..<n {
                let slot = Int(data.textOfItem[Int(atoms[a])])
                if slot >= 0 {
                    (X + a * 384).update(from: x.baseAddress! + slot * 384, count: 384)
                } else {
                    (X + a * 384).update(repeating: 0, count: 384)
                }
            }
        }
        T.gemm(
            transposeA: true, transposeB: false, dText, 384, n, a: ge + dItem + dCat, lda: d, b: X, ldb: 384,
            beta: 1, c: g + off[P.textWeight.rawValue], ldc: 384)
    }

    // MARK: Helpers

    /// `y = x Wᵀ + b` for `n` rows.
    private func linear(
        _ n: Int, _ x: UnsafePointer<T>, _ weight: Parameters<T>.Tensor, _ bias: Parameters<T>.Tensor,
        _ w: UnsafePointer<T>, outputs: Int, inputs: Int, into y: UnsafeMutablePointer<T>
    ) {
        guard n > 0 else { return }
        let b = w + off[bias.rawValue]
        for i in 0..<n { (y + i * outputs).update(from: b, count: outputs) }
        T.gemm(
            transposeA: false, transposeB: true, n, outputs, inputs, a: x, lda: inputs, b: w + off[weight.rawValue],
            ldb: inputs,
            beta: 1, c: y, ldc: outputs)
    }

    /// Backward of `linear`: `dW += dyᵀ x`, `db += Σ dy`, `dx = dy W` (or `+=` when `accumulate`).
    private func linearBackward(
        _ n: Int, x: UnsafePointer<T>, dy: UnsafePointer<T>, _ weight: Parameters<T>.Tensor,
        _ bias: Parameters<T>.Tensor, _ w: UnsafePointer<T>, _ g: UnsafeMutablePointer<T>,
        outputs: Int, inputs: Int, dx: UnsafeMutablePointer<T>, accumulate: Bool = false
    ) {
        T.gemm(
            transposeA: true, transposeB: false, outputs, inputs, n, a: dy, lda: outputs, b: x, ldb: inputs,
            beta: 1, c: g + off[weight.rawValue], ldc: inputs)
        let gb = g + off[bias.rawValue]
        for i in 0..<n { for k in 0..<outputs { gb[k] += dy[i * outputs + k] } }
        T.gemm(
            transposeA: false, transposeB: false, n, inputs, outputs, a: dy, lda: outputs, b: w + off[weight.rawValue],
            ldb: inputs,
            beta: accumulate ? 1 : 0, c: dx, ldc: inputs)
    }

    @inline(__always)
    private func dot(_ a: UnsafePointer<T>, _ b: UnsafePointer<T>, _ n: Int) -> T {
        var s: T = 0
        for k in 0..<n { s += a[k] * b[k] }
        return s
    }

    /// The item rows and category rows whose embedding gradients the last backward pass wrote.
    var touchedRows: (items: [Int32], categories: [Int32]) {
        (atoms, Array(Set(atoms.map { data.categoryOfItem[Int($0)] })).sorted())
    }
}
