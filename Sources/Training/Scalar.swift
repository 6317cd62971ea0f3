package import Tensors
import Foundation

/// The number type the trainer runs in: `Float` for training, `Double` for the finite-difference gradient
/// checks. The same generic code serves both, so the checks test the code that trains.
package protocol TrainingScalar: BinaryFloatingPoint, BitwiseCopyable, Sendable {
    static func exp(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    /// `C[m, n] = op(A) × op(B) + beta · C`, row-major; `op(A)` is `[m, k]`, `op(B)` is `[k, n]`.
    static func gemm(
        transposeA: Bool, transposeB: Bool, _ m: Int, _ n: Int, _ k: Int,
        a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
    /// Target attention of one query over listed behaviors, every head (`Attention.Problem`'s layout):
    /// `weights[h · n + j]` and `out[h · d_h + k]`. Float runs the C kernels; Double the reference below.
    static func attend(
        _ p: Attention.Problem<Self>, weights: UnsafeMutablePointer<Self>, into out: UnsafeMutablePointer<Self>)
    /// One Adam step over `n` parameters (`Adam.update`'s inner loop): Float runs the C kernel, Double the
    /// reference below.
    static func adamStep(
        w: UnsafeMutablePointer<Self>, g: UnsafeMutablePointer<Self>, m: UnsafeMutablePointer<Self>,
        v: UnsafeMutablePointer<Self>, count n: Int, _ p: AdamStep<Self>)
    /// Backward of `attend`: adds into `dQuery` and the listed rows of `dKeys` and `dValues`.
    static func attendBackward(
        _ p: Attention.Problem<Self>, weights: UnsafePointer<Self>, dOut: UnsafePointer<Self>,
        dQuery: UnsafeMutablePointer<Self>, dKeys: UnsafeMutablePointer<Self>, dValues: UnsafeMutablePointer<Self>)
}

/// Adam's constants for one step: `rate` carries the bias correction, `shrink` the decoupled weight decay.
package struct AdamStep<T: TrainingScalar> {
    package var beta1: T, beta2: T, epsilon: T, rate: T, shrink: T

    package init(beta1: T, beta2: T, epsilon: T, rate: T, shrink: T) {
        (self.beta1, self.beta2, self.epsilon, self.rate, self.shrink) = (beta1, beta2, epsilon, rate, shrink)
    }
}

extension TrainingScalar {
    /// The reference Adam step: `m ← β1 m + (1 − β1) g`, `v ← β2 v + (1 − β2) g²`,
    /// `w ← w · shrink − rate · m / (√v + ε)`, `g ← 0`.
    package static func adamStepReference(
        w: UnsafeMutablePointer<Self>, g: UnsafeMutablePointer<Self>, m: UnsafeMutablePointer<Self>,
        v: UnsafeMutablePointer<Self>, count n: Int, _ p: AdamStep<Self>
    ) {
        for k in 0..<n {
            let gk = g[k]
            let mk = p.beta1 * m[k] + (1 - p.beta1) * gk, vk = p.beta2 * v[k] + (1 - p.beta2) * gk * gk
            m[k] = mk
            v[k] = vk
            w[k] = w[k] * p.shrink - p.rate * mk / (vk.squareRoot() + p.epsilon)
            g[k] = 0
        }
    }

    /// The reference attention, in the loop order of the C kernels (`Sources/CKernels/attention.c`).
    package static func attendReference(
        _ p: Attention.Problem<Self>, weights alpha: UnsafeMutablePointer<Self>, into out: UnsafeMutablePointer<Self>
    ) {
        let n = p.count, dh = p.headWidth, da = p.heads * dh
        for j in 0..<n {
            let k = p.keys + Int(p.list[j]) * da
            for h in 0..<p.heads { alpha[h * n + j] = p.scale * dot(p.query + h * dh, k + h * dh, dh) }
        }
        for h in 0..<p.heads {
            let a = alpha + h * n
            var top = a[0]
            for j in 1..<n where a[j] > top { top = a[j] }
            var total: Self = 0
            for j in 0..<n {
                a[j] = exp(a[j] - top)
                total += a[j]
            }
            let inverse = 1 / total
            for j in 0..<n { a[j] *= inverse }
        }
        out.update(repeating: 0, count: da)
        for j in 0..<n {
            let v = p.values + Int(p.list[j]) * da
            for h in 0..<p.heads {
                let w = alpha[h * n + j]
                for x in (h * dh)..<((h + 1) * dh) { out[x] += w * v[x] }
            }
        }
    }

    /// The reference backward: `dα_j = dO_h · V_j`, `ds_j = α_j (dα_j − Σ_i α_i dα_i) · scale`.
    package static func attendBackwardReference(
        _ p: Attention.Problem<Self>, weights alpha: UnsafePointer<Self>, dOut: UnsafePointer<Self>,
        dQuery: UnsafeMutablePointer<Self>, dKeys: UnsafeMutablePointer<Self>, dValues: UnsafeMutablePointer<Self>
    ) {
        let n = p.count, dh = p.headWidth, H = p.heads, da = H * dh
        withUnsafeTemporaryAllocation(of: Self.self, capacity: H) { mean in
            mean.initialize(repeating: 0)
            for j in 0..<n {
                let v = p.values + Int(p.list[j]) * da
                for h in 0..<H { mean[h] += alpha[h * n + j] * dot(dOut + h * dh, v + h * dh, dh) }
            }
            for j in 0..<n {
                let row = Int(p.list[j]) * da
                let v = p.values + row, k = p.keys + row, dv = dValues + row, dk = dKeys + row
                for h in 0..<H {
                    let o = h * dh, w = alpha[h * n + j]
                    let ds = w * (dot(dOut + o, v + o, dh) - mean[h]) * p.scale
                    for x in o..<(o + dh) {
                        dv[x] += w * dOut[x]
                        dQuery[x] += ds * k[x]
                        dk[x] += ds * p.query[x]
                    }
                }
            }
        }
    }

    @inline(__always)
    static func dot(_ a: UnsafePointer<Self>, _ b: UnsafePointer<Self>, _ n: Int) -> Self {
        var s: Self = 0
        for k in 0..<n { s += a[k] * b[k] }
        return s
    }
}

extension Float: TrainingScalar {
    package static func attend(
        _ p: Attention.Problem<Float>, weights: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>
    ) {
        guard p.heads <= Attention.maximumHeads else { return attendReference(p, weights: weights, into: out) }
        Attention.forward(p, weights: weights, into: out)
    }

    package static func attendBackward(
        _ p: Attention.Problem<Float>, weights: UnsafePointer<Float>, dOut: UnsafePointer<Float>,
        dQuery: UnsafeMutablePointer<Float>, dKeys: UnsafeMutablePointer<Float>, dValues: UnsafeMutablePointer<Float>
    ) {
        guard p.heads <= Attention.maximumHeads else {
            return attendBackwardReference(
                p, weights: weights, dOut: dOut, dQuery: dQuery, dKeys: dKeys, dValues: dValues)
        }
        Attention.backward(p, weights: weights, dOut: dOut, dQuery: dQuery, dKeys: dKeys, dValues: dValues)
    }

    @inline(__always) package static func exp(_ x: Float) -> Float { expf(x) }
    @inline(__always) package static func log(_ x: Float) -> Float { logf(x) }
    package static func gemm(
        transposeA: Bool, transposeB: Bool, _ m: Int, _ n: Int, _ k: Int,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        BLAS.gemm(
            transposeA: transposeA, transposeB: transposeB, m, n, k, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c,
            ldc: ldc)
    }
}

extension Float {
    package static func adamStep(
        w: UnsafeMutablePointer<Float>, g: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>,
        v: UnsafeMutablePointer<Float>, count n: Int, _ p: AdamStep<Float>
    ) {
        AdamKernel.step(
            w: w, g: g, m: m, v: v, count: n, beta1: p.beta1, beta2: p.beta2, epsilon: p.epsilon, rate: p.rate,
            shrink: p.shrink)
    }
}

extension Double: TrainingScalar {
    package static func adamStep(
        w: UnsafeMutablePointer<Double>, g: UnsafeMutablePointer<Double>, m: UnsafeMutablePointer<Double>,
        v: UnsafeMutablePointer<Double>, count n: Int, _ p: AdamStep<Double>
    ) { adamStepReference(w: w, g: g, m: m, v: v, count: n, p) }

    package static func attend(
        _ p: Attention.Problem<Double>, weights: UnsafeMutablePointer<Double>, into out: UnsafeMutablePointer<Double>
    ) { attendReference(p, weights: weights, into: out) }

    package static func attendBackward(
        _ p: Attention.Problem<Double>, weights: UnsafePointer<Double>, dOut: UnsafePointer<Double>,
        dQuery: UnsafeMutablePointer<Double>, dKeys: UnsafeMutablePointer<Double>,
        dValues: UnsafeMutablePointer<Double>
    ) { attendBackwardReference(p, weights: weights, dOut: dOut, dQuery: dQuery, dKeys: dKeys, dValues: dValues) }

    @inline(__always) package static func exp(_ x: Double) -> Double { Foundation.exp(x) }
    @inline(__always) package static func log(_ x: Double) -> Double { Foundation.log(x) }
    package static func gemm(
        transposeA: Bool, transposeB: Bool, _ m: Int, _ n: Int, _ k: Int,
        a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
        beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        BLAS.gemm(
            transposeA: transposeA, transposeB: transposeB, m, n, k, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c,
            ldc: ldc)
    }
}
