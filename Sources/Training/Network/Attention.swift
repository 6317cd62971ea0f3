import Tensors

/// Target attention (MODEL.md): `u_short` over the window for every model, `u_long` over the whole history for
/// the `full` model. A sample's query attends over a list of behaviors (indices into `keys` and `values`).
extension Network {
    /// `u_short`: target attention over each sample's window (0 for a sample without one).
    func shortAttentionForward(_ B: Int, _ w: UnsafePointer<T>) {
        let heads = shortHeads.ensure(B * da)
        heads.update(repeating: 0, count: B * da)  // rows without a window stay 0 (backward multiplies by them)
        let weights = shortWeights.ensure(max(layout.shortWeightStart[B], 1))
        for i in 0..<B where layout.windowCount[i] > 0 {
            let first = layout.windowStart(i)
            layout.entries.withUnsafeBufferPointer { entries in
                attend(
                    i, entries.baseAddress! + first, count: layout.windowCount[i],
                    weights: weights + layout.shortWeightStart[i], into: heads + i * da)
            }
        }
        project(B, heads: heads, w, into: shortInterest.ensure(B * d), present: { self.layout.windowCount[$0] > 0 })
    }

    /// `u_long` of the `full` model: target attention over the whole history, one sample's weights at a time
    /// (recomputed in backward), so nothing of size B × L is kept.
    func fullAttentionForward(_ B: Int, _ w: UnsafePointer<T>, into uLong: UnsafeMutablePointer<T>) {
        let heads = longHeads.ensure(B * da)
        heads.update(repeating: 0, count: B * da)
        let weights = longWeights.ensure(max(layout.longestHistory, 1) * self.heads)
        layout.walk.withUnsafeBufferPointer { walk in
            for i in 0..<B where layout.samplePosition[i] > 0 {
                attend(
                    i, walk.baseAddress! + layout.sampleWalkStart[i], count: Int(layout.samplePosition[i]),
                    weights: weights, into: heads + i * da)
            }
        }
        project(B, heads: heads, w, into: uLong, present: { self.layout.samplePosition[$0] > 0 })
    }

    /// Backward of `u_short` into `W_o`, the query, key and value gradients.
    func shortAttentionBackward(
        _ B: Int, dShort: UnsafeMutablePointer<T>, _ w: UnsafePointer<T>, _ g: UnsafeMutablePointer<T>
    ) {
        let dH = dHeads.ensure(B * da), dQ = dQueries.pointer
        for i in 0..<B where layout.windowCount[i] == 0 { (dShort + i * d).update(repeating: 0, count: d) }
        linearBackward(
            B, x: shortHeads.pointer, dy: dShort, .outputWeight, .outputBias, w, g, outputs: d, inputs: da, dx: dH)
        for i in 0..<B where layout.windowCount[i] > 0 {
            let first = layout.windowStart(i)
            layout.entries.withUnsafeBufferPointer { entries in
                attendBackward(
                    i, entries.baseAddress! + first, count: layout.windowCount[i],
                    weights: shortWeights.pointer + layout.shortWeightStart[i], dOut: dH + i * da,
                    dQuery: dQ + i * da)
            }
        }
    }

    /// Backward of the `full` model's `u_long`, each sample's weights computed again.
    func fullAttentionBackward(
        _ B: Int, dLong: UnsafeMutablePointer<T>, _ w: UnsafePointer<T>, _ g: UnsafeMutablePointer<T>
    ) {
        let dH = dHeads.pointer, dQ = dQueries.pointer
        for i in 0..<B where layout.samplePosition[i] == 0 { (dLong + i * d).update(repeating: 0, count: d) }
        linearBackward(
            B, x: longHeads.pointer, dy: dLong, .outputWeight, .outputBias, w, g, outputs: d, inputs: da, dx: dH)
        let weights = longWeights.pointer, scratch = headsScratch.ensure(da)
        layout.walk.withUnsafeBufferPointer { walk in
            for i in 0..<B where layout.samplePosition[i] > 0 {
                let list = walk.baseAddress! + layout.sampleWalkStart[i], n = Int(layout.samplePosition[i])
                attend(i, list, count: n, weights: weights, into: scratch)  // the weights again
                attendBackward(i, list, count: n, weights: weights, dOut: dH + i * da, dQuery: dQ + i * da)
            }
        }
    }

    /// Per head: `α = softmax(Q_h · K_h,j / √d_h)` over the listed behaviors, `o_h = Σ α_j V_h,j`.
    private func attend(
        _ i: Int, _ list: UnsafePointer<Int32>, count n: Int, weights alpha: UnsafeMutablePointer<T>,
        into o: UnsafeMutablePointer<T>
    ) {
        T.attend(problem(i, list, n), weights: alpha, into: o)
    }

    /// Backward of `attend` for one sample: adds to `dQuery` and to the key and value gradients of its list.
    private func attendBackward(
        _ i: Int, _ list: UnsafePointer<Int32>, count n: Int, weights alpha: UnsafePointer<T>, dOut: UnsafePointer<T>,
        dQuery: UnsafeMutablePointer<T>
    ) {
        T.attendBackward(
            problem(i, list, n), weights: alpha, dOut: dOut, dQuery: dQuery, dKeys: dKeys.pointer,
            dValues: dValues.pointer)
    }

    private func problem(_ i: Int, _ list: UnsafePointer<Int32>, _ n: Int) -> Attention.Problem<T> {
        Attention.Problem(
            query: queries.pointer + i * da, keys: keys.pointer, values: values.pointer, list: list, count: n,
            heads: heads, headWidth: dh, scale: scale)
    }

    /// `u = W_o · heads + b_o` for the rows that have something to attend to; 0 for the others (MODEL.md).
    private func project(
        _ B: Int, heads: UnsafePointer<T>, _ w: UnsafePointer<T>, into u: UnsafeMutablePointer<T>,
        present: (Int) -> Bool
    ) {
        linear(B, heads, .outputWeight, .outputBias, w, outputs: d, inputs: da, into: u)
        for i in 0..<B where !present(i) { (u + i * d).update(repeating: 0, count: d) }
    }
}
