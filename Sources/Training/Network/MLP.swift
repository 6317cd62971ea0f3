import Model
import Tensors

/// The MLP over `z = [q, u_long, u_short, q ⊙ u_long, q ⊙ u_short]` (MODEL.md), the loss, the dense layers'
/// backward, and the linear layers every step shares.
extension Network {
    /// `z` → ReLU → ReLU → logit → σ; the mean BCE.
    func mlpForward(_ B: Int, _ w: UnsafePointer<T>) -> Double {
        let z = mlpInput.ensure(B * 5 * d)
        MLPInput.build(
            B, d: d, q: candidates.pointer, long: longInterest.pointer, short: shortInterest.pointer, into: z)
        let x1 = hidden1.ensure(B * h1), x2 = hidden2.ensure(B * h2)
        linear(B, z, .mlp0Weight, .mlp0Bias, w, outputs: h1, inputs: 5 * d, into: x1)
        for k in 0..<(B * h1) { x1[k] = max(x1[k], 0) }  // branch-free (vectorised): ~half the units are < 0
        linear(B, x1, .mlp1Weight, .mlp1Bias, w, outputs: h2, inputs: h1, into: x2)
        for k in 0..<(B * h2) { x2[k] = max(x2[k], 0) }
        let outWeight = tensor(.mlp2Weight, in: w), outBias = tensor(.mlp2Bias, in: w)[0]
        let lg = logits.ensure(B), p = predictions.ensure(B)
        var loss = 0.0
        for i in 0..<B {
            let l = dot(x2 + i * h2, outWeight, h2) + outBias
            lg[i] = l
            p[i] = 1 / (1 + T.exp(-l))
            // BCE from the logit, stable for large |l|: max(l, 0) − l·y + log(1 + e^{−|l|}).
            let y: T = layout.labels[i] ? 1 : 0
            loss += Double(max(l, 0) - l * y + T.log(1 + T.exp(-abs(l))))
        }
        return loss / Double(max(B, 1))
    }

    /// Loss → logit → the two hidden layers → `dz`, with the dense layers' gradients added to `g`.
    func mlpBackward(_ B: Int, _ w: UnsafePointer<T>, _ g: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<T> {
        let dz = dMLPInput.ensure(B * 5 * d), dx1 = dHidden1.ensure(B * h1), dx2 = dHidden2.ensure(B * h2)
        let outWeight = tensor(.mlp2Weight, in: w), x2 = hidden2.pointer, x1 = hidden1.pointer
        let dOutWeight = tensor(.mlp2Weight, in: g), dOutBias = tensor(.mlp2Bias, in: g)
        for i in 0..<B {
            let dl = (predictions.pointer[i] - (layout.labels[i] ? 1 : 0)) / T(B)
            dOutBias[0] += dl
            for k in 0..<h2 {
                dOutWeight[k] += dl * x2[i * h2 + k]
                dx2[i * h2 + k] = x2[i * h2 + k] > 0 ? dl * outWeight[k] : 0
            }
        }
        linearBackward(B, x: x1, dy: dx2, .mlp1Weight, .mlp1Bias, w, g, outputs: h2, inputs: h1, dx: dx1)
        for k in 0..<(B * h1) { dx1[k] = x1[k] <= 0 ? 0 : dx1[k] }
        linearBackward(
            B, x: mlpInput.pointer, dy: dx1, .mlp0Weight, .mlp0Bias, w, g, outputs: h1, inputs: 5 * d, dx: dz)
        return dz
    }

    /// `dz` → `dq`, `du_long`, `du_short` (the products' terms included).
    func splitMLPInput(
        _ B: Int, _ dz: UnsafePointer<T>, dCandidates dq: UnsafeMutablePointer<T>, dLong: UnsafeMutablePointer<T>,
        dShort: UnsafeMutablePointer<T>
    ) {
        let q = candidates.pointer, uLong = longInterest.pointer, uShort = shortInterest.pointer
        for i in 0..<B {
            let zi = dz + i * 5 * d
            for k in 0..<d {
                let qk = q[i * d + k]
                dq[i * d + k] = zi[k] + zi[3 * d + k] * uLong[i * d + k] + zi[4 * d + k] * uShort[i * d + k]
                dLong[i * d + k] = zi[d + k] + zi[3 * d + k] * qk
                dShort[i * d + k] = zi[2 * d + k] + zi[4 * d + k] * qk
            }
        }
    }

    /// Queries → `dE` of the candidates; keys and values → `dS`.
    func projectionsBackward(
        _ B: Int, dCandidates dq: UnsafeMutablePointer<T>, _ w: UnsafePointer<T>, _ g: UnsafeMutablePointer<T>
    ) {
        let nb = layout.behaviorKeys.count, dAtoms = dAtomEmbeddings.pointer, dBehaviors = dBehaviorVectors.pointer
        linearBackward(
            B, x: candidates.pointer, dy: dQueries.pointer, .queryWeight, .queryBias, w, g, outputs: da, inputs: d,
            dx: dq, accumulate: true)
        for i in 0..<B {
            let row = dAtoms + Int(layout.candidate[i]) * d, src = dq + i * d
            for k in 0..<d { row[k] += src[k] }
        }
        guard nb > 0 else { return }
        let vectors = behaviorVectors.pointer
        linearBackward(
            nb, x: vectors, dy: dKeys.pointer, .keyWeight, .keyBias, w, g, outputs: da, inputs: d, dx: dBehaviors,
            accumulate: true)
        linearBackward(
            nb, x: vectors, dy: dValues.pointer, .valueWeight, .valueBias, w, g, outputs: da, inputs: d,
            dx: dBehaviors, accumulate: true)
    }

    /// `y = x Wᵀ + b` for `n` rows.
    func linear(
        _ n: Int, _ x: UnsafePointer<T>, _ weight: Tensor, _ bias: Tensor, _ w: UnsafePointer<T>, outputs: Int,
        inputs: Int, into y: UnsafeMutablePointer<T>
    ) {
        guard n > 0 else { return }
        let b = tensor(bias, in: w)
        for i in 0..<n { (y + i * outputs).update(from: b, count: outputs) }
        T.gemm(
            transposeA: false, transposeB: true, n, outputs, inputs, a: x, lda: inputs, b: tensor(weight, in: w),
            ldb: inputs, beta: 1, c: y, ldc: outputs)
    }

    /// Backward of `linear`: `dW += dyᵀ x`, `db += Σ dy`, `dx = dy W` (or `+=` when `accumulate`).
    func linearBackward(
        _ n: Int, x: UnsafePointer<T>, dy: UnsafePointer<T>, _ weight: Tensor, _ bias: Tensor,
        _ w: UnsafePointer<T>, _ g: UnsafeMutablePointer<T>, outputs: Int, inputs: Int,
        dx: UnsafeMutablePointer<T>, accumulate: Bool = false
    ) {
        T.gemm(
            transposeA: true, transposeB: false, outputs, inputs, n, a: dy, lda: outputs, b: x, ldb: inputs,
            beta: 1, c: tensor(weight, in: g), ldc: inputs)
        let db = tensor(bias, in: g)
        for i in 0..<n { for k in 0..<outputs { db[k] += dy[i * outputs + k] } }
        T.gemm(
            transposeA: false, transposeB: false, n, inputs, outputs, a: dy, lda: outputs, b: tensor(weight, in: w),
            ldb: inputs, beta: accumulate ? 1 : 0, c: dx, ldc: inputs)
    }

    @inline(__always)
    func dot(_ a: UnsafePointer<T>, _ b: UnsafePointer<T>, _ n: Int) -> T {
        var s: T = 0
        for k in 0..<n { s += a[k] * b[k] }
        return s
    }
}
