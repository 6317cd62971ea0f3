import CKernels

/// The Adam step's inner loop as a C kernel (`Sources/CKernels/adam.c`): AVX2 when the CPU has it, the x86-64
/// baseline otherwise, both the same floats (no FMA contraction).
public enum AdamKernel {
    /// `m ← β1 m + (1 − β1) g`, `v ← β2 v + (1 − β2) g²`, `w ← w · shrink − rate · m / (√v + ε)`, `g ← 0` over
    /// `n` floats of four arrays that do not overlap.
    @inline(__always)
    public static func step(
        w: UnsafeMutablePointer<Float>, g: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>,
        v: UnsafeMutablePointer<Float>, count n: Int, beta1: Float, beta2: Float, epsilon: Float, rate: Float,
        shrink: Float, baseline: Bool = false
    ) {
        var p = LifelongAdam(beta1: beta1, beta2: beta2, epsilon: epsilon, rate: rate, shrink: shrink)
        if baseline { lifelong_adam_baseline(w, g, m, v, n, &p) } else { lifelong_adam(w, g, m, v, n, &p) }
    }
}
