/// Adam (Kingma & Ba) over the flat parameter array, lazy for the embedding tables: a table row's moments
/// and value change only on steps whose batch touched it (like TensorFlow's LazyAdam and PyTorch's
/// SparseAdam), so a step costs O(rows touched), not O(vocabulary). Bias correction uses the global step.
struct Adam<T: TrainingScalar> {
    var learningRate: T
    var beta1: T = 0.9, beta2: T = 0.999, epsilon: T = 1e-8
    /// Decoupled weight decay (AdamW): each updated weight also shrinks by `learningRate · weightDecay · w`.
    var weightDecay: T = 0
    private(set) var step = 0
    private var m: [T], v: [T]
    private var power1: T = 1, power2: T = 1

    init(count: Int, learningRate: T) {
        self.learningRate = learningRate
        m = [T](repeating: 0, count: count)
        v = [T](repeating: 0, count: count)
    }

    /// One step. `dense`: ranges updated in full; `rows`: (offset, width) of the table rows with gradients.
    /// The gradients it reads are zeroed, ready for the next batch.
    mutating func update(
        _ w: UnsafeMutablePointer<T>, _ g: UnsafeMutablePointer<T>, dense: [Range<Int>],
        rows: [(offset: Int, width: Int)]
    ) {
        step += 1
        power1 *= beta1
        power2 *= beta2
        let lr = learningRate * (1 - power2).squareRoot() / (1 - power1)
        let (b1, b2, eps) = (beta1, beta2, epsilon)
        let shrink = 1 - learningRate * weightDecay
        m.withUnsafeMutableBufferPointer { mp in
            v.withUnsafeMutableBufferPointer { vp in
                let m = mp.baseAddress!, v = vp.baseAddress!
                let step = AdamStep(beta1: b1, beta2: b2, epsilon: eps, rate: lr, shrink: shrink)
                func apply(_ r: Range<Int>) {
                    let k = r.lowerBound
                    T.adamStep(w: w + k, g: g + k, m: m + k, v: v + k, count: r.count, step)
                }
                for r in dense { apply(r) }
                for r in rows { apply(r.offset..<(r.offset + r.width)) }
            }
        }
    }
}
