import CKernels

/// Target attention of one query over a list of behaviors (docs/MODEL.md), every head at once, and the softmax
/// it is built on: the C kernels of `Sources/CKernels/attention.c`, AVX2 + FMA when the CPU has them (chosen
/// once at load), the x86-64 baseline otherwise. The two agree to float rounding (the AVX2 exp is a
/// polynomial within 2e-7 of `expf`).
public enum Attention {
    /// One query against the rows `list[0..<count]` of `keys` and `values` (`[*, heads · headWidth]`).
    public struct Problem {
        public var query: UnsafePointer<Float>
        public var keys: UnsafePointer<Float>
        public var values: UnsafePointer<Float>
        public var list: UnsafePointer<Int32>
        public var count: Int
        public var heads: Int
        public var headWidth: Int
        /// Multiplies every score before the softmax (1/√headWidth in MODEL.md).
        public var scale: Float

        public init(
            query: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
            list: UnsafePointer<Int32>, count: Int, heads: Int, headWidth: Int, scale: Float
        ) {
            precondition(heads >= 1 && heads <= maximumHeads, "the attention kernels take 1 … 64 heads")
            self.query = query
            self.keys = keys
            self.values = values
            self.list = list
            self.count = count
            self.heads = heads
            self.headWidth = headWidth
            self.scale = scale
        }

        var c: LifelongAttention {
            LifelongAttention(
                query: query, keys: keys, values: values, list: list, count: count, heads: heads,
                head_width: headWidth, scale: scale)
        }
    }

    /// The most heads the kernels take.
    public static let maximumHeads = 64

    /// `weights[h · count + j] = softmax_j(scale · q_h · K_j,h)`, `out[h · headWidth + k] = Σ_j weights · V_j,h,k`.
    /// With `baseline`, the x86-64 baseline variant whatever the CPU (for tests).
    public static func forward(
        _ p: Problem, weights: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>,
        baseline: Bool = false
    ) {
        var c = p.c
        if baseline { lifelong_attend_baseline(&c, weights, out) } else { lifelong_attend(&c, weights, out) }
    }

    /// Backward of `forward` given its `weights` and `dOut`: adds into `dQuery` and into the listed rows of
    /// `dKeys` and `dValues`.
    public static func backward(
        _ p: Problem, weights: UnsafePointer<Float>, dOut: UnsafePointer<Float>, dQuery: UnsafeMutablePointer<Float>,
        dKeys: UnsafeMutablePointer<Float>, dValues: UnsafeMutablePointer<Float>, baseline: Bool = false
    ) {
        var c = p.c
        if baseline {
            lifelong_attend_backward_baseline(&c, weights, dOut, dQuery, dKeys, dValues)
        } else {
            lifelong_attend_backward(&c, weights, dOut, dQuery, dKeys, dValues)
        }
    }

    /// In-place softmax of `n` floats (max subtracted).
    @inline(__always)
    public static func softmax(_ v: UnsafeMutablePointer<Float>, _ n: Int, baseline: Bool = false) {
        if baseline { lifelong_softmax_baseline(v, n) } else { lifelong_softmax(v, n) }
    }

    /// Whether the kernels run their AVX2 + FMA variants here.
    public static var usesAVX2: Bool { lifelong_attention_uses_avx2() != 0 }
}

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
