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
/// The steps live in one file each: `BatchLayout.swift` (samples → atoms, behaviors, walks), `Embedding.swift`
/// (`E`, `S` and their scatter), `Attention.swift` (target attention), `SDIM.swift` (Eq. 12) and `MLP.swift`.
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
    typealias Tensor = Parameters<T>.Tensor

    let config: ModelBundle.Config
    let long: LongTerm
    let data: TrainingSet
    let projection: [T]  // [m, d], fixed
    let texts: [T]  // [n_texts, TextVector.width], frozen atoms
    let offsets: [Int]  // tensor offsets in the parameter array (`Parameters.Tensor` order)
    // MODEL.md's dimensions: d, d_a, heads, d_h, the two hidden widths, n_sig and K.
    let d: Int, da: Int, heads: Int, dh: Int, h1: Int, h2: Int, nSig: Int, window: Int
    let scale: T  // 1/√d_h
    /// SDIM through running bucket sums per user (O(n_sig·d) per sample); false: each sample gathers its whole
    /// history (O(L) per sample), the reference the tests compare with.
    var causal = true
    /// Where the batch's atoms, behaviors, samples and walks are (`BatchLayout.swift`).
    var layout: BatchLayout

    // Forward state.
    var atomEmbeddings = Buffer<T>()  // E [n_atoms, d]
    var behaviorVectors = Buffer<T>()  // S [n_behaviors, d]
    var keys = Buffer<T>(), values = Buffer<T>()  // [n_behaviors, d_a]
    var signatureProjections = Buffer<T>()  // E Pᵀ [n_atoms, m]
    var signatures = Buffer<UInt8>()  // [n_atoms, n_sig] bucket of each atom per signature
    var candidates = Buffer<T>(), queries = Buffer<T>()  // q [B, d], its query [B, d_a]
    var shortHeads = Buffer<T>(), shortInterest = Buffer<T>(), shortWeights = Buffer<T>()
    var longHeads = Buffer<T>(), longInterest = Buffer<T>(), longWeights = Buffer<T>()
    var bucketSums = Buffer<T>(), bucketNorms = Buffer<T>()  // [B, n_sig, d], [B, n_sig]
    var runningSums = Buffer<T>()  // [n_sig · 2^τ, d] bucket sums (forward) or bucket gradients (backward)
    var mlpInput = Buffer<T>(), hidden1 = Buffer<T>(), hidden2 = Buffer<T>()
    /// σ(logit) of the last forward pass, one per sample.
    var predictions = Buffer<T>()
    var logits = Buffer<T>()

    // Backward state.
    var dAtomEmbeddings = Buffer<T>(), dBehaviorVectors = Buffer<T>(), dKeys = Buffer<T>(), dValues = Buffer<T>()
    var dQueries = Buffer<T>(), dCandidates = Buffer<T>(), dHeads = Buffer<T>()
    var dShortInterest = Buffer<T>(), dLongInterest = Buffer<T>(), dBucketSums = Buffer<T>()
    var dMLPInput = Buffer<T>(), dHidden1 = Buffer<T>(), dHidden2 = Buffer<T>()
    var atomTexts = Buffer<T>()  // [n_atoms, TextVector.width]: x(text) of each atom, 0 without a text
    var dBucketSumsAll = Buffer<T>()  // [B, n_sig, d] for the causal backward
    var headsScratch = Buffer<T>()  // [d_a]: full attention's output when its weights are recomputed

    init(config: ModelBundle.Config, long: LongTerm, data: TrainingSet, projection: [Float], offsets: [Int]) {
        self.config = config
        self.long = long
        self.data = data
        self.projection = projection.map { T($0) }
        texts = data.texts.map { T($0) }
        self.offsets = offsets
        d = config.d; da = config.attentionDim; heads = config.heads; dh = config.attentionDim / config.heads
        h1 = config.hidden[0]; h2 = config.hidden[1]; nSig = config.signatures; window = config.window
        scale = 1 / T(dh).squareRoot()
        layout = BatchLayout(items: data.categoryOfItem.count)
    }

    deinit {
        for b in [
            atomEmbeddings, behaviorVectors, keys, values, signatureProjections, candidates, queries, shortHeads,
            shortInterest, shortWeights, longHeads, longInterest, longWeights, bucketSums, bucketNorms, runningSums,
            mlpInput, hidden1, hidden2, predictions, logits, dAtomEmbeddings, dBehaviorVectors, dKeys, dValues,
            dQueries, dCandidates, dHeads, dShortInterest, dLongInterest, dBucketSums, dMLPInput, dHidden1,
            dHidden2, atomTexts, dBucketSumsAll, headsScratch,
        ] { b.free() }
        signatures.free()
    }

    /// A pointer to tensor `t` of a parameter (or gradient) array laid out like `Parameters`.
    @inline(__always)
    func tensor(_ t: Tensor, in w: UnsafePointer<T>) -> UnsafePointer<T> { w + offsets[t.rawValue] }

    @inline(__always)
    func tensor(_ t: Tensor, in g: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<T> { g + offsets[t.rawValue] }

    // MARK: Forward

    /// Runs the batch; returns the mean binary cross-entropy (natural log). `predictions` holds σ(logit).
    @discardableResult
    func forward(_ batch: UnsafeBufferPointer<TrainingSet.Sample>, parameters w: UnsafePointer<T>) -> Double {
        layout.lay(
            batch, data: data, long: long, causal: causal, window: window, heads: heads, feedback: config.feedback)
        let B = layout.batchSize, nb = layout.behaviorKeys.count
        embedAtoms(w)
        embedBehaviors(w)
        if long == .sdim { hashAtoms() }
        let vectors = behaviorVectors.pointer
        linear(nb, vectors, .keyWeight, .keyBias, w, outputs: da, inputs: d, into: keys.ensure(max(nb, 1) * da))
        linear(nb, vectors, .valueWeight, .valueBias, w, outputs: da, inputs: d, into: values.ensure(max(nb, 1) * da))
        let q = candidates.ensure(B * d)
        for i in 0..<B { (q + i * d).update(from: atomEmbeddings.pointer + Int(layout.candidate[i]) * d, count: d) }
        linear(B, q, .queryWeight, .queryBias, w, outputs: da, inputs: d, into: queries.ensure(B * da))

        shortAttentionForward(B, w)
        let uLong = longInterest.ensure(B * d)
        switch long {
        case .none: uLong.update(repeating: 0, count: B * d)
        case .full: fullAttentionForward(B, w, into: uLong)
        case .sdim: if causal { sdimCausalForward(B, into: uLong) } else { sdimForward(B, into: uLong) }
        }
        return mlpForward(B, w)
    }

    // MARK: Backward

    /// Gradients of the last forward pass's mean loss, added to `g` (laid out like the parameters). Only the
    /// embedding rows of this batch's atoms (and their categories) are written in the tables.
    func backward(parameters w: UnsafePointer<T>, gradients g: UnsafeMutablePointer<T>) {
        let B = layout.batchSize, n = layout.atoms.count, nb = layout.behaviorKeys.count
        let dz = mlpBackward(B, w, g)
        let dq = dCandidates.ensure(B * d), dLong = dLongInterest.ensure(B * d), dShort = dShortInterest.ensure(B * d)
        splitMLPInput(B, dz, dCandidates: dq, dLong: dLong, dShort: dShort)

        let dAtoms = dAtomEmbeddings.ensure(max(n, 1) * d), dBehaviors = dBehaviorVectors.ensure(max(nb, 1) * d)
        let dK = dKeys.ensure(max(nb, 1) * da), dV = dValues.ensure(max(nb, 1) * da)
        let dQ = dQueries.ensure(B * da)
        dAtoms.update(repeating: 0, count: n * d)
        dBehaviors.update(repeating: 0, count: nb * d)
        dK.update(repeating: 0, count: nb * da)
        dV.update(repeating: 0, count: nb * da)
        dQ.update(repeating: 0, count: B * da)

        shortAttentionBackward(B, dShort: dShort, w, g)
        switch long {
        case .none: break
        case .full: fullAttentionBackward(B, dLong: dLong, w, g)
        case .sdim:
            if causal {
                sdimCausalBackward(B, dLong: dLong, into: dBehaviors)
            } else {
                sdimBackward(B, dLong: dLong, into: dBehaviors)
            }
        }
        projectionsBackward(B, dCandidates: dq, w, g)
        scatterBehaviors(g)
        scatterAtoms(dAtoms, g)
    }

    /// The item rows and category rows whose embedding gradients the last backward pass wrote.
    var touchedRows: (items: [Int32], categories: [Int32]) {
        (layout.atoms, Array(Set(layout.atoms.map { data.categoryOfItem[Int($0)] })).sorted())
    }
}
