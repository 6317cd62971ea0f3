import Model
import Tensors

/// SDIM's long-term interest (MODEL.md, Eq. 12): signatures of the atoms, the bucket sums of each sample's
/// history (per sample, or in one causal pass per user), their ℓ2 normalisation and mean, and the backward.
extension Network {
    /// Signatures of every atom: one product `E Pᵀ`, then the sign bits (MODEL.md: a tie is 0).
    func hashAtoms() {
        let n = layout.atoms.count, m = config.m, tau = config.tau
        let p = signatureProjections.ensure(max(n, 1) * m), sig = signatures.ensure(max(n, 1) * nSig)
        projection.withUnsafeBufferPointer { P in
            T.gemm(
                transposeA: false, transposeB: true, n, m, d, a: atomEmbeddings.pointer, lda: d, b: P.baseAddress!,
                ldb: d, beta: 0, c: p, ldc: m)
        }
        for a in 0..<n {
            for g in 0..<nSig {
                var bucket: UInt8 = 0
                for t in 0..<tau where p[a * m + g * tau + t] > 0 { bucket |= 1 << t }
                sig[a * nSig + g] = bucket
            }
        }
    }

    /// Eq. 12 per sample: for each signature, the sum of the history vectors in the candidate's bucket,
    /// ℓ2-normalised; the mean over signatures (an empty bucket adds 0).
    func sdimForward(_ B: Int, into uLong: UnsafeMutablePointer<T>) {
        let G = bucketSums.ensure(B * nSig * d), N = bucketNorms.ensure(B * nSig)
        let sig = signatures.pointer, vectors = behaviorVectors.pointer
        G.update(repeating: 0, count: B * nSig * d)
        layout.entries.withUnsafeBufferPointer { entries in
            for i in 0..<B {
                let cs = sig + Int(layout.candidate[i]) * nSig, Gi = G + i * nSig * d
                for j in layout.entryStart[i]..<(layout.entryStart[i] + layout.entryCount[i]) {
                    let l = Int(entries[j]), sj = sig + Int(layout.behaviorAtom[l]) * nSig, vj = vectors + l * d
                    for g in 0..<nSig where sj[g] == cs[g] {
                        let s = Gi + g * d
                        for k in 0..<d { s[k] += vj[k] }
                    }
                }
                normaliseAndAverage(i, G: G, N: N, into: uLong + i * d)
            }
        }
    }

    /// Eq. 12 for every sample from running bucket sums: per user, positions in order; a sample at position p
    /// takes the sums of positions < p in its candidate's buckets, then behavior p is added to its buckets.
    func sdimCausalForward(_ B: Int, into uLong: UnsafeMutablePointer<T>) {
        let buckets = config.buckets
        let G = bucketSums.ensure(B * nSig * d), N = bucketNorms.ensure(B * nSig)
        let R = runningSums.ensure(nSig * buckets * d)
        let sig = signatures.pointer, vectors = behaviorVectors.pointer
        for walk in layout.walks {
            R.update(repeating: 0, count: nSig * buckets * d)
            var next = walk.samplesStart
            let end = walk.samplesStart + walk.samplesCount
            for p in 0...walk.walkLength {
                while next < end, Int(layout.samplePosition[Int(layout.walkSamples[next])]) == p {
                    let i = Int(layout.walkSamples[next]), Gi = G + i * nSig * d
                    let cs = sig + Int(layout.candidate[i]) * nSig
                    for g in 0..<nSig { (Gi + g * d).update(from: R + (g * buckets + Int(cs[g])) * d, count: d) }
                    next += 1
                }
                guard p < walk.walkLength else { break }
                let l = Int(layout.walk[walk.walkStart + p]), vl = vectors + l * d
                let sl = sig + Int(layout.behaviorAtom[l]) * nSig
                for g in 0..<nSig {
                    let r = R + (g * buckets + Int(sl[g])) * d
                    for k in 0..<d { r[k] += vl[k] }
                }
            }
        }
        for i in 0..<B { normaliseAndAverage(i, G: G, N: N, into: uLong + i * d) }
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
        let G = bucketSums.pointer, N = bucketNorms.pointer
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
    func sdimCausalBackward(
        _ B: Int, dLong: UnsafePointer<T>, into dBehaviors: UnsafeMutablePointer<T>
    ) {
        let buckets = config.buckets
        let dG = dBucketSumsAll.ensure(B * nSig * d), A = runningSums.ensure(nSig * buckets * d)
        for i in 0..<B { bucketGradients(i, dLong: dLong + i * d, into: dG + i * nSig * d) }
        let sig = signatures.pointer
        for walk in layout.walks {
            A.update(repeating: 0, count: nSig * buckets * d)
            var next = walk.samplesStart + walk.samplesCount - 1
            for p in stride(from: walk.walkLength, through: 0, by: -1) {
                if p < walk.walkLength {
                    let l = Int(layout.walk[walk.walkStart + p]), row = dBehaviors + l * d
                    let sl = sig + Int(layout.behaviorAtom[l]) * nSig
                    for g in 0..<nSig {
                        let a = A + (g * buckets + Int(sl[g])) * d
                        for k in 0..<d { row[k] += a[k] }
                    }
                }
                while next >= walk.samplesStart, Int(layout.samplePosition[Int(layout.walkSamples[next])]) == p {
                    let i = Int(layout.walkSamples[next]), dGi = dG + i * nSig * d
                    let cs = sig + Int(layout.candidate[i]) * nSig
                    for g in 0..<nSig {
                        let a = A + (g * buckets + Int(cs[g])) * d, src = dGi + g * d
                        for k in 0..<d { a[k] += src[k] }
                    }
                    next -= 1
                }
            }
        }
    }

    /// Backward of Eq. 12: `d(s/‖s‖) = (I − ŝŝᵀ)/‖s‖`, then every history vector in the bucket receives the
    /// bucket's gradient (signatures are constant).
    func sdimBackward(_ B: Int, dLong: UnsafePointer<T>, into dBehaviors: UnsafeMutablePointer<T>) {
        let N = bucketNorms.pointer, dG = dBucketSums.ensure(nSig * d)
        let sig = signatures.pointer
        layout.entries.withUnsafeBufferPointer { entries in
            for i in 0..<B where layout.entryCount[i] > 0 {
                let cs = sig + Int(layout.candidate[i]) * nSig
                bucketGradients(i, dLong: dLong + i * d, into: dG)
                for j in layout.entryStart[i]..<(layout.entryStart[i] + layout.entryCount[i]) {
                    let l = Int(entries[j]), sj = sig + Int(layout.behaviorAtom[l]) * nSig, row = dBehaviors + l * d
                    for g in 0..<nSig where sj[g] == cs[g] && N[i * nSig + g] > 0 {
                        let src = dG + g * d
                        for k in 0..<d { row[k] += src[k] }
                    }
                }
            }
        }
    }
}
