import Foundation
import Testing
import Tensors
@testable import Training

/// The trainer's Float attention runs the C kernels; the float64 gradient checks run the Swift reference. These
/// tests tie the two together: both kernel variants (the one chosen at load and the baseline) against the
/// float64 reference on the same inputs, forward and backward, and the reference backward against finite
/// differences of the reference forward.
@Suite("Attention kernels")
struct AttentionKernelTests {
    /// A problem with repeated rows in the list (gradients of one row accumulate), scores large enough that
    /// the softmax is far from uniform, and a length that is not a multiple of 8 (the kernels' tail).
    struct Case {
        let heads: Int, width: Int, rows: Int, list: [Int32]
        let query: [Double], keys: [Double], values: [Double], dOut: [Double]

        init(heads: Int, width: Int, count: Int, seed: UInt64) {
            var rng = Gaussian(seed: seed)
            let da = heads * width
            self.heads = heads
            self.width = width
            rows = max(1, count / 2 + 1)
            list = (0..<count).map { _ in Int32(rng.bits() % UInt64(max(1, count / 2 + 1))) }
            query = (0..<da).map { _ in Double(rng.normal()) * 1.5 }
            keys = (0..<(rows * da)).map { _ in Double(rng.normal()) }
            values = (0..<(rows * da)).map { _ in Double(rng.normal()) }
            dOut = (0..<da).map { _ in Double(rng.normal()) }
        }

        var scale: Double { 1 / Double(width).squareRoot() }
    }

    struct Result<T> { var weights: [T], out: [T], dQuery: [T], dKeys: [T], dValues: [T] }

    static func run<T: TrainingScalar>(
        _ c: Case, as _: T.Type, kernel: ((Attention.Problem<T>) -> Result<T>)? = nil
    )
        -> Result<T>
    {
        let q = c.query.map { T($0) }, k = c.keys.map { T($0) }, v = c.values.map { T($0) }
        let dOut = c.dOut.map { T($0) }
        let da = c.heads * c.width, n = c.list.count
        var r = Result<T>(
            weights: .init(repeating: 0, count: c.heads * n), out: .init(repeating: 0, count: da),
            dQuery: .init(repeating: 0, count: da), dKeys: .init(repeating: 0, count: k.count),
            dValues: .init(repeating: 0, count: v.count))
        q.withUnsafeBufferPointer { q in
            k.withUnsafeBufferPointer { k in
                v.withUnsafeBufferPointer { v in
                    c.list.withUnsafeBufferPointer { list in
                        let p = Attention.Problem(
                            query: q.baseAddress!, keys: k.baseAddress!, values: v.baseAddress!,
                            list: list.baseAddress!, count: n, heads: c.heads, headWidth: c.width, scale: T(c.scale))
                        if let kernel {
                            r = kernel(p)
                            return
                        }
                        T.attendReference(p, weights: &r.weights, into: &r.out)
                        T.attendBackwardReference(
                            p, weights: r.weights, dOut: dOut, dQuery: &r.dQuery, dKeys: &r.dKeys,
                            dValues: &r.dValues)
                    }
                }
            }
        }
        return r
    }

    /// The Float kernel (`baseline` or the one chosen at load) on `c`.
    static func kernel(_ c: Case, baseline: Bool) -> Result<Float> {
        let dOut = c.dOut.map { Float($0) }
        return run(c, as: Float.self) { p in
            var r = Result<Float>(
                weights: .init(repeating: 0, count: c.heads * p.count), out: .init(repeating: 0, count: c.dOut.count),
                dQuery: .init(repeating: 0, count: c.dOut.count), dKeys: .init(repeating: 0, count: c.keys.count),
                dValues: .init(repeating: 0, count: c.values.count))
            Attention.forward(p, weights: &r.weights, into: &r.out, baseline: baseline)
            Attention.backward(
                p, weights: r.weights, dOut: dOut, dQuery: &r.dQuery, dKeys: &r.dKeys, dValues: &r.dValues,
                baseline: baseline)
            return r
        }
    }

    static func close(_ a: [Float], _ b: [Double], _ what: String, tolerance: Double = 2e-5) {
        #expect(a.count == b.count)
        let worst = zip(a, b).map { abs(Double($0) - $1) / max(1, abs($1)) }.max() ?? 0
        #expect(worst <= tolerance, "\(what): worst relative error \(worst)")
    }

    @Test(
        "both Float kernels equal the float64 reference, forward and backward",
        arguments: [(1, 8, 1), (2, 16, 50), (2, 16, 203), (4, 8, 7), (2, 12, 33), (3, 32, 1000)])
    func kernelsMatchReference(heads: Int, width: Int, count: Int) {
        let c = Case(heads: heads, width: width, count: count, seed: UInt64(heads * 1000 + width * 10 + count))
        let reference = Self.run(c, as: Double.self)
        for baseline in [false, true] {
            let k = Self.kernel(c, baseline: baseline)
            let name = baseline ? "baseline" : (Attention.usesAVX2 ? "avx2" : "chosen (baseline)")
            Self.close(k.weights, reference.weights, "\(name) weights")
            Self.close(k.out, reference.out, "\(name) out")
            Self.close(k.dQuery, reference.dQuery, "\(name) dQuery")
            Self.close(k.dKeys, reference.dKeys, "\(name) dKeys")
            Self.close(k.dValues, reference.dValues, "\(name) dValues")
        }
    }

    @Test("the reference backward equals central differences of the reference forward (float64)")
    func referenceBackwardIsTheGradient() {
        let c = Case(heads: 2, width: 4, count: 9, seed: 17)
        let r = Self.run(c, as: Double.self)
        // L = dOut · out; perturb each input in turn.
        func loss(_ edit: (inout [Double], inout [Double], inout [Double]) -> Void) -> Double {
            var q = c.query, k = c.keys, v = c.values
            edit(&q, &k, &v)
            let moved = Case(copying: c, query: q, keys: k, values: v)
            return zip(Self.run(moved, as: Double.self).out, c.dOut).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let h = 1e-6
        for (name, count, analytic) in [
            ("query", c.query.count, r.dQuery), ("keys", c.keys.count, r.dKeys), ("values", c.values.count, r.dValues),
        ] {
            for i in 0..<count {
                func nudge(_ by: Double) -> (inout [Double], inout [Double], inout [Double]) -> Void {
                    { q, k, v in
                        switch name {
                        case "query": q[i] += by
                        case "keys": k[i] += by
                        default: v[i] += by
                        }
                    }
                }
                let numeric = (loss(nudge(h)) - loss(nudge(-h))) / (2 * h)
                #expect(abs(numeric - analytic[i]) <= 1e-7 * max(1, abs(numeric)), "d\(name)[\(i)]")
            }
        }
    }

    @Test("softmax: both variants sum to 1 and equal the float64 softmax, tails and extreme scores included")
    func softmax() {
        var rng = Gaussian(seed: 9)
        for n in [1, 3, 8, 13, 64, 1001] {
            let x = (0..<n).map { _ in rng.normal() * 30 }
            let top = Double(x.max()!)
            let e = x.map { Foundation.exp(Double($0) - top) }
            let total = e.reduce(0, +)
            for baseline in [false, true] {
                var v = x
                Attention.softmax(&v, n, baseline: baseline)
                Self.close(v, e.map { $0 / total }, "softmax n = \(n)", tolerance: 1e-6)
                #expect(abs(v.reduce(0, +) - 1) < 1e-5)
            }
        }
    }
}

extension AttentionKernelTests.Case {
    init(copying c: Self, query: [Double], keys: [Double], values: [Double]) {
        (heads, width, rows, list, dOut) = (c.heads, c.width, c.rows, c.list, c.dOut)
        (self.query, self.keys, self.values) = (query, keys, values)
    }
}
