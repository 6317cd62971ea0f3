import Testing
import Tensors
@testable import Training

/// The trainer's Float Adam step runs a C kernel; the float64 checks run the Swift reference.
@Suite("Adam kernel")
struct AdamKernelTests {
    @Test("both Float variants give the same floats, equal to the float64 reference step, and zero the gradients")
    func variantsMatchReference() {
        var rng = Gaussian(seed: 4)
        for n in [1, 7, 8, 33, 1000] {
            let w = (0..<n).map { _ in rng.normal() }, g = (0..<n).map { _ in rng.normal() * 0.1 }
            let m = (0..<n).map { _ in rng.normal() * 0.01 }, v = (0..<n).map { _ in abs(rng.normal()) * 1e-4 }
            let (b1, b2, eps, rate, shrink): (Float, Float, Float, Float, Float) = (0.9, 0.999, 1e-8, 3e-3, 0.9999)
            func kernel(baseline: Bool) -> ([Float], [Float], [Float], [Float]) {
                var (w, g, m, v) = (w, g, m, v)
                AdamKernel.step(
                    w: &w, g: &g, m: &m, v: &v, count: n, beta1: b1, beta2: b2, epsilon: eps, rate: rate,
                    shrink: shrink, baseline: baseline)
                return (w, g, m, v)
            }
            let chosen = kernel(baseline: false), baseline = kernel(baseline: true)
            #expect(chosen.0 == baseline.0 && chosen.2 == baseline.2 && chosen.3 == baseline.3, "n = \(n)")
            #expect(chosen.1.allSatisfy { $0 == 0 })
            var (wd, gd, md, vd) = (w.map(Double.init), g.map(Double.init), m.map(Double.init), v.map(Double.init))
            Double.adamStepReference(
                w: &wd, g: &gd, m: &md, v: &vd, count: n,
                AdamStep(
                    beta1: Double(b1), beta2: Double(b2), epsilon: Double(eps), rate: Double(rate),
                    shrink: Double(shrink)))
            for k in 0..<n {
                #expect(abs(Double(chosen.0[k]) - wd[k]) <= 1e-6 * max(1, abs(wd[k])), "w[\(k)], n = \(n)")
                #expect(abs(Double(chosen.2[k]) - md[k]) <= 1e-6 * max(1e-3, abs(md[k])), "m[\(k)], n = \(n)")
            }
        }
    }
}
