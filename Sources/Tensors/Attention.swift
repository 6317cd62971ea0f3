import CKernels

/// Target attention of one query over a list of behaviors (docs/MODEL.md), every head at once, and the softmax
/// it is built on: the C kernels of `Sources/CKernels/attention.c`, AVX2 + FMA when the CPU has them (chosen
/// once at load), the x86-64 baseline otherwise. The two agree to float rounding (the AVX2 exp is a
/// polynomial within 2e-7 of `expf`).
public enum Attention {
    /// One query against the rows `list[0..<count]` of `keys` and `values` (`[*, heads · headWidth]`), in
    /// `Float` for the kernels or in another scalar for a reference implementation (the trainer's float64
    /// gradient checks).
    public struct Problem<Scalar> {
        public var query: UnsafePointer<Scalar>
        public var keys: UnsafePointer<Scalar>
        public var values: UnsafePointer<Scalar>
        public var list: UnsafePointer<Int32>
        public var count: Int
        public var heads: Int
        public var headWidth: Int
        /// Multiplies every score before the softmax (1/√headWidth in MODEL.md).
        public var scale: Scalar

        public init(
            query: UnsafePointer<Scalar>, keys: UnsafePointer<Scalar>, values: UnsafePointer<Scalar>,
            list: UnsafePointer<Int32>, count: Int, heads: Int, headWidth: Int, scale: Scalar
        ) {
            (self.query, self.keys, self.values, self.list) = (query, keys, values, list)
            (self.count, self.heads, self.headWidth, self.scale) = (count, heads, headWidth, scale)
        }
    }

    /// The most heads the kernels take.
    public static let maximumHeads = 64

    /// `weights[h · count + j] = softmax_j(scale · q_h · K_j,h)`, `out[h · headWidth + k] = Σ_j weights · V_j,h,k`.
    /// With `baseline`, the x86-64 baseline variant whatever the CPU (for tests). At most `maximumHeads` heads.
    public static func forward(
        _ p: Problem<Float>, weights: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>,
        baseline: Bool = false
    ) {
        var c = kernelArguments(p)
        if baseline { lifelong_attend_baseline(&c, weights, out) } else { lifelong_attend(&c, weights, out) }
    }

    /// Backward of `forward` given its `weights` and `dOut`: adds into `dQuery` and into the listed rows of
    /// `dKeys` and `dValues`.
    public static func backward(
        _ p: Problem<Float>, weights: UnsafePointer<Float>, dOut: UnsafePointer<Float>,
        dQuery: UnsafeMutablePointer<Float>, dKeys: UnsafeMutablePointer<Float>, dValues: UnsafeMutablePointer<Float>,
        baseline: Bool = false
    ) {
        var c = kernelArguments(p)
        if baseline {
            lifelong_attend_backward_baseline(&c, weights, dOut, dQuery, dKeys, dValues)
        } else {
            lifelong_attend_backward(&c, weights, dOut, dQuery, dKeys, dValues)
        }
    }

    private static func kernelArguments(_ p: Problem<Float>) -> LifelongAttention {
        precondition(p.heads >= 1 && p.heads <= maximumHeads, "the attention kernels take 1 … 64 heads")
        return LifelongAttention(
            query: p.query, keys: p.keys, values: p.values, list: p.list, count: p.count, heads: p.heads,
            head_width: p.headWidth, scale: p.scale)
    }

    /// In-place softmax of `n` floats (max subtracted).
    @inline(__always)
    public static func softmax(_ v: UnsafeMutablePointer<Float>, _ n: Int, baseline: Bool = false) {
        if baseline { lifelong_softmax_baseline(v, n) } else { lifelong_softmax(v, n) }
    }

    /// Whether the kernels run their AVX2 + FMA variants here.
    public static var usesAVX2: Bool { lifelong_attention_uses_avx2() != 0 }
}
