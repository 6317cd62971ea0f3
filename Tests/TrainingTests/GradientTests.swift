import Offline
import Foundation
import LMDB
import Model
import Testing
import TestSupport
import Tensors
import BehaviorLog
@testable import Training

/// A small log with every case the model has: empty histories (a user's first behavior), windows shorter
/// and longer than K, repeated items, items without text, several categories; with `unlabelled`, that
/// fraction of behaviors has no label (feedback "unknown": history only, not a sample).
func smallLog(users: Int = 5, items: Int = 14, seed: UInt64 = 3, unlabelled: Float = 0, ties: Bool = false) -> Dataset {
    var rng = Gaussian(seed: seed)
    var behaviors: [Behavior] = []
    for u in 0..<users {
        let n = 3 + Int(rng.bits() % 10)
        for j in 0..<n {
            let item = "i\(rng.bits() % UInt64(items))"
            let label = rng.uniform() < 0.5
            let known = unlabelled == 0 || rng.uniform() >= unlabelled
            behaviors.append(
                Behavior(
                    user: "u\(u)", item: item, timestamp: Double(1000 + 10 * (ties ? j / 2 : j) + u),
                    label: known ? label : nil))
        }
    }
    var catalog: [String: ItemInfo] = [:]
    for i in 0..<items { catalog["i\(i)"] = ItemInfo(category: "c\(i % 4)", text: i % 3 == 2 ? nil : "title \(i)") }
    return Dataset(behaviors: behaviors, items: catalog)
}

/// Fake text atoms (the gradient checks need vectors, not a language model).
func fakeTextVectors(_ data: Dataset, seed: UInt64 = 5) -> [String: [Float]] {
    var rng = Gaussian(seed: seed)
    var out: [String: [Float]] = [:]
    for id in data.items.keys.sorted() where data.items[id]?.text != nil {
        out[id] = (0..<384).map { _ in rng.normal() * 0.2 }
    }
    return out
}

/// A tiny random bundle over the log's vocabulary, weights scaled up so that activations spread.
func smallBundle(_ data: Dataset, in folder: String, text: Bool, feedback: Bool = false) throws -> ModelBundle {
    var shape = ModelBundle.Shape()
    shape.feedback = feedback
    shape.dItem = 4; shape.dCat = 3; shape.dText = text ? 2 : 0
    shape.m = 6; shape.tau = 2; shape.window = 3; shape.heads = 2; shape.attentionDim = 4; shape.hidden = [5, 3]
    try ModelBundle.writeRandom(to: folder, vocabulary: data.vocabularyIds, shape: shape, seed: 17)
    try ModelBundle.scaleWeights(in: folder, embeddings: 8, linear: 2.5)
    return try ModelBundle(folder: folder)
}

func temporaryFolder(_ name: String) -> String { TestSupport.temporaryFolder("training-" + name, create: true) }

/// The whole log as one batch, in float64, with the loss as a function of the parameters.
struct GradientFixture {
    let network: Network<Double>
    var parameters: Parameters<Double>
    let samples: [TrainingSet.Sample]

    init(long: LongTerm, text: Bool, feedback: Bool = false, ties: Bool = false, users: Int = 5) throws {
        let data = smallLog(users: users, unlabelled: feedback ? 0.25 : 0, ties: ties)
        let bundle = try smallBundle(data, in: temporaryFolder("grad"), text: text, feedback: feedback)
        let set = try TrainingSet(
            data, vocabulary: bundle.vocabulary, textVectors: text ? fakeTextVectors(data) : [:],
            validFraction: 0.4, testFraction: 0.7)
        parameters = Parameters(bundle)
        network = Network(
            config: bundle.config, long: long, data: set, projection: bundle.projection, offsets: parameters.offsets)
        samples = (set.train + set.valid + set.test).sorted { $0.order < $1.order }
    }

    func loss(_ w: [Double], _ batch: [TrainingSet.Sample]? = nil) -> Double {
        (batch ?? samples).withUnsafeBufferPointer { s in
            w.withUnsafeBufferPointer { network.forward(s, parameters: $0.baseAddress!) }
        }
    }

    func gradient(_ batch: [TrainingSet.Sample]? = nil) -> [Double] {
        var g = [Double](repeating: 0, count: parameters.values.count)
        _ = loss(parameters.values, batch)
        parameters.values.withUnsafeBufferPointer { w in
            g.withUnsafeMutableBufferPointer {
                network.backward(parameters: w.baseAddress!, gradients: $0.baseAddress!)
            }
        }
        return g
    }

    /// The analytic and the central-difference derivative of the loss along `directions` random directions.
    func directionalDerivatives(
        _ batch: [TrainingSet.Sample]? = nil, directions: Int, seed: UInt64
    ) -> [(analytic: Double, numeric: Double)] {
        let g = gradient(batch)
        var rng = Gaussian(seed: seed)
        return (0..<directions).map { _ in
            let v = parameters.values.map { _ in Double(rng.normal()) }
            let eps = 1e-6
            let plus = zip(parameters.values, v).map { $0 + eps * $1 },
                minus = zip(parameters.values, v).map { $0 - eps * $1 }
            return (zip(g, v).reduce(0) { $0 + $1.0 * $1.1 }, (loss(plus, batch) - loss(minus, batch)) / (2 * eps))
        }
    }

    /// Central difference along coordinate `k`.
    func numeric(_ k: Int, eps: Double = 1e-6) -> Double {
        var plus = parameters.values, minus = parameters.values
        plus[k] += eps
        minus[k] -= eps
        return (loss(plus) - loss(minus)) / (2 * eps)
    }
}

/// |a − b| / max(|a| + |b|, floor): a relative error; the floor absorbs the ~1e-10 rounding noise of a
/// central difference on a loss of ~0.7 when the true gradient is 0.
func relativeError(_ a: Double, _ b: Double, floor: Double = 1e-4) -> Double {
    abs(a - b) / max(abs(a) + abs(b), floor)
}

@Suite("Gradients against finite differences (float64)")
struct GradientTests {
    @Test(
        "every tensor, every long-term variant, with text; v1 and v2 (feedback)", arguments: LongTerm.allCases,
        [false, true])
    func everyTensor(long: LongTerm, feedback: Bool) throws {
        let f = try GradientFixture(long: long, text: true, feedback: feedback)
        let g = f.gradient()
        let p = f.parameters
        #expect(p.tensors.count == (feedback ? 19 : 18))
        for t in p.tensors {
            let range = p.offset(t)..<(p.offset(t) + p.count(t))
            // Every coordinate of the small tensors; a fixed spread of the 768 text weights.
            let coordinates =
                t == .textWeight ? Array(stride(from: range.lowerBound, to: range.upperBound, by: 7)) : Array(range)
            var worst = 0.0, nonzero = 0
            for k in coordinates {
                let n = f.numeric(k)
                worst = max(worst, relativeError(g[k], n))
                if abs(g[k]) > 1e-9 { nonzero += 1 }
            }
            #expect(worst < 1e-5, "\(long) \(t.name): worst relative error \(worst)")
            if t == .feedback {
                // All three rows (unknown, not clicked, clicked) occur in the histories, so all must learn.
                for row in 0..<3 {
                    let slice = g[(range.lowerBound + row * p.config.d)..<(range.lowerBound + (row + 1) * p.config.d)]
                    #expect(slice.contains { abs($0) > 1e-9 }, "\(long): feedback row \(row) has no gradient")
                }
            }
            if t == .keyBias {
                // Softmax ignores a shift shared by all scores, and b_k shifts every score by Q·b_k: its
                // gradient is zero, and must come out zero.
                #expect(nonzero == 0, "\(long): key bias has a gradient")
            } else {
                // The check means something only if gradients flow.
                #expect(nonzero > 0, "\(long) \(t.name): no gradient at all")
            }
        }
    }

    @Test("the whole model along random directions; v1 and v2 (feedback)", arguments: LongTerm.allCases, [false, true])
    func wholeModel(long: LongTerm, feedback: Bool) throws {
        let f = try GradientFixture(long: long, text: true, feedback: feedback)
        for (analytic, numeric) in f.directionalDerivatives(directions: 3, seed: 41) {
            #expect(
                relativeError(analytic, numeric) < 1e-6, "\(long): directional derivative \(analytic) vs \(numeric)")
        }
    }
}

@Suite("SDIM's causal pass (running bucket sums) against the per-sample gather")
struct CausalPassTests {
    /// Batches with several users, one user alone, samples of several users shuffled, and a subset of one
    /// user's samples; every case has samples in shared buckets (τ = 2: 4 buckets per signature) and empty
    /// buckets (short histories).
    static func batches(_ f: GradientFixture) -> [(String, [TrainingSet.Sample])] {
        var rng = Gaussian(seed: 9)
        var shuffled = f.samples
        rng.shuffle(&shuffled)
        let users = Set(f.samples.map(\.user)).sorted()
        let longest = users.max { a, b in
            f.samples.filter { $0.user == a }.count < f.samples.filter { $0.user == b }.count
        }!
        let alone = f.samples.filter { $0.user == longest }
        return [
            ("every sample, several users", f.samples), ("shuffled", shuffled), ("one user alone", alone),
            ("every other sample of one user", alone.enumerated().filter { $0.offset % 2 == 1 }.map(\.element)),
            ("half the samples, shuffled", Array(shuffled.prefix(shuffled.count / 2))),
        ]
    }

    @Test(
        "loss and every gradient equal the per-sample implementation; v1 and v2, ties in time or not",
        arguments: [false, true], [false, true])
    func equalsPerSample(feedback: Bool, ties: Bool) throws {
        let f = try GradientFixture(long: .sdim, text: true, feedback: feedback, ties: ties, users: 7)
        for (name, batch) in Self.batches(f) {
            f.network.causal = false
            let lossReference = f.loss(f.parameters.values, batch), gReference = f.gradient(batch)
            f.network.causal = true
            let loss = f.loss(f.parameters.values, batch), g = f.gradient(batch)
            #expect(loss == lossReference, "\(name): loss \(loss) vs \(lossReference)")
            let worst = zip(g, gReference).map { relativeError($0, $1, floor: 1e-6) }.max() ?? 0
            #expect(worst < 1e-9, "\(name): worst relative gradient difference \(worst)")
            #expect(gReference.contains { abs($0) > 1e-9 })
        }
    }

    @Test("finite differences of the causal pass for a user alone and a shuffled batch, ties in time")
    func finiteDifferences() throws {
        let f = try GradientFixture(long: .sdim, text: true, feedback: true, ties: true, users: 7)
        for (name, batch) in Self.batches(f) where name != "every sample, several users" {
            for (analytic, numeric) in f.directionalDerivatives(batch, directions: 2, seed: 43) {
                #expect(relativeError(analytic, numeric) < 1e-6, "\(name): \(analytic) vs \(numeric)")
            }
        }
    }
}

@Suite("Adam")
struct AdamTests {
    @Test("one step matches the formula; table rows outside the batch stay as they are; weight decay shrinks")
    func step() {
        var adam = Adam<Double>(count: 4, learningRate: 0.1)
        adam.weightDecay = 0.5
        var w: [Double] = [1, 2, 3, 4], g: [Double] = [0.5, -2, 7, 9]
        w.withUnsafeMutableBufferPointer { wp in
            g.withUnsafeMutableBufferPointer {
                adam.update(wp.baseAddress!, $0.baseAddress!, dense: [0..<2], rows: [(offset: 2, width: 1)])
            }
        }
        // First step: m̂ = g, v̂ = g², so the move is lr · g/(|g| + ε) = ±lr, after shrinking by 1 − lr·wd.
        let expected: [Double] = [1 * 0.95 - 0.1, 2 * 0.95 + 0.1, 3 * 0.95 - 0.1, 4]
        for k in 0..<4 { #expect(abs(w[k] - expected[k]) < 1e-6, "w[\(k)] = \(w[k])") }
        // Read gradients are cleared, the untouched row's kept.
        #expect(g[0] == 0 && g[1] == 0 && g[2] == 0 && g[3] == 9)
    }
}
