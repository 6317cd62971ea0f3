import Foundation
import Synchronization
import Testing
import Tensors
import BehaviorLog
import TestSupport
import Offline
import LMDB
import Model
import Scorer
import CAllocationCounter
import Store
import TextEncoder

/// The repository root, found from this file's path.
let repositoryRoot = Repository.root

/// A bundle + store made from a synthetic log whose users cross the window (K = 6) and chunk (64) sizes.
final class ScoringFixture: @unchecked Sendable {
    let root = temporaryFolder("score")
    let data: Dataset
    let model: ModelBundle
    let store: Store

    /// With `textModel`, the bundle has a text projection (d_text = 5, K = 1) and items i0…i39 have texts.
    /// With `feedback`, a v2 bundle, and behaviors labelled clicked, not clicked or unknown at random.
    init(
        users: Int = 9, items: Int = 60, seed: UInt64 = 21, precision: UserRecord.Precision = .f32,
        textModel: MiniLM? = nil,
        feedback: Bool = false
    ) throws {
        var g = Gaussian(seed: seed)
        var behaviors: [Behavior] = []
        let lengths = [0, 1, 5, 6, 7, 40, 255, 256, 600]
        for u in 0..<users {
            var t = 100.0
            for _ in 0..<lengths[u % lengths.count] {
                t += Double(g.bits() % 2)  // equal timestamps happen
                let item = "i\(g.bits() % UInt64(items))"
                let label: Bool? = feedback ? [nil, false, true][Int(g.bits() % 3)] : nil
                behaviors.append(Behavior(user: "u\(u)", item: item, timestamp: t, label: label))
            }
        }
        var catalog: [String: ItemInfo] = [:]
        for i in 0..<items {
            catalog["i\(i)"] = ItemInfo(
                category: "c\(i % 7)", text: textModel != nil && i < 40 ? "Movie number \(i % 30) (19\(i % 9)0)" : nil)
        }
        data = Dataset(behaviors: behaviors, items: catalog)
        var shape = ModelBundle.Shape()
        shape.dItem = 12; shape.dCat = 4; shape.m = 12; shape.tau = 3; shape.window = 6; shape.heads = 2
        shape.attentionDim = 8; shape.hidden = [16, 8]
        if textModel != nil { shape.dText = 5; shape.textLayers = 1 }
        shape.feedback = feedback
        // Items i0…i49 in the vocabulary; i50…i59 are known to the store only (row 0 = unknown).
        try ModelBundle.writeRandom(
            to: root + "/model", items: (0..<50).map { "i\($0)" }, categories: (0..<7).map { "c\($0)" },
            shape: shape, seed: seed)
        // Wider weights than init-model's, so that probabilities spread over (0, 1) and any error shows.
        try ModelBundle.scaleWeights(in: root + "/model", embeddings: 10, linear: 3)
        model = try ModelBundle(folder: root + "/model")
        store = try Store(path: root + "/store")
        _ = try BehaviorEncoder(model: model, store: store, precision: precision, textModel: textModel).encode(data)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }
}

/// MODEL.md v1 in float64, straight from the behavior log and the bundle's tensors (no store, no BLAS); for a
/// v2 bundle, each history vector adds its feedback row, and its signature stays that of `e(item)`.
struct Reference {
    let model: ModelBundle
    let catalog: [String: ItemInfo]
    /// x(text) per item id, for a bundle with a text projection.
    var text: [String: [Float]] = [:]

    func e(_ item: String) -> [Double] {
        let c = model.config
        let row = model.vocabulary.items[item] ?? 0
        let cat = catalog[item]?.category.flatMap { model.vocabulary.categories[$0] } ?? 0
        let x = text[item].map { $0.map(Double.init) } ?? Array(repeating: 0, count: 384)
        let textPart = (0..<c.dText).map { r in
            Double(model.textProjectionBias[r])
                + (0..<384).reduce(0.0) { $0 + Double(model.textProjectionWeight[r * 384 + $1]) * x[$1] }
        }
        return (0..<c.dItem).map { Double(model.itemEmbedding[row * c.dItem + $0]) }
            + (0..<c.dCat).map { Double(model.categoryEmbedding[cat * c.dCat + $0]) } + textPart
    }

    func linear(_ l: ModelBundle.Linear, _ x: [Double]) -> [Double] {
        (0..<l.outputs).map { o in
            Double(l.bias[o]) + (0..<l.inputs).reduce(0.0) { $0 + Double(l.weight[o * l.inputs + $1]) * x[$1] }
        }
    }

    func signature(_ v: [Double]) -> [Int] {
        let c = model.config
        return (0..<c.signatures).map { g in
            (0..<c.tau).reduce(0) { bucket, t in
                let k = g * c.tau + t
                let dot = (0..<c.d).reduce(0.0) { $0 + Double(model.projection[k * c.d + $1]) * v[$1] }
                return dot > 0 ? bucket | (1 << t) : bucket
            }
        }
    }

    /// A user's behavior vectors in MODEL.md order, and their signatures.
    struct History {
        var vectors: [[Double]]
        var signatures: [[Int]]
    }

    func history(_ user: String, _ log: [Behavior]) -> History {
        let mine = log.filter { $0.user == user }.sorted {
            $0.timestamp != $1.timestamp
                ? $0.timestamp < $1.timestamp : $0.item.utf8.lexicographicallyPrecedes($1.item.utf8)
        }
        let vectors = mine.map { e($0.item) }
        let c = model.config
        guard c.feedback else { return History(vectors: vectors, signatures: vectors.map(signature)) }
        let withFeedback = zip(mine, vectors).map { b, v in
            let row = b.label.map { $0 ? 2 : 1 } ?? 0
            return v.indices.map { v[$0] + Double(model.feedbackEmbedding[row * c.d + $0]) }
        }
        return History(vectors: withFeedback, signatures: vectors.map(signature))
    }

    /// Eq. 12 from the sequence.
    func long(_ q: [Double], _ seq: [[Double]], _ sigs: [[Int]]) -> [Double] {
        let c = model.config
        let sq = signature(q)
        var u = [Double](repeating: 0, count: c.d)
        for g in 0..<c.signatures {
            var s = [Double](repeating: 0, count: c.d)
            for (v, sv) in zip(seq, sigs) where sv[g] == sq[g] { for k in 0..<c.d { s[k] += v[k] } }
            let norm = s.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if norm == 0 { continue }
            for k in 0..<c.d { u[k] += s[k] / max(norm, 1e-12) / Double(c.signatures) }
        }
        return u
    }

    /// Multi-head softmax target attention of `q` over `xs` with the short-term weights.
    func attention(_ q: [Double], _ xs: [[Double]]) -> [Double] {
        let c = model.config
        guard !xs.isEmpty else { return [Double](repeating: 0, count: c.d) }
        let dh = c.attentionDim / c.heads
        let Q = linear(model.query, q), K = xs.map { linear(model.key, $0) }, V = xs.map { linear(model.value, $0) }
        var o = [Double](repeating: 0, count: c.attentionDim)
        for h in 0..<c.heads {
            let r = (h * dh)..<((h + 1) * dh)
            let logits = K.map { k in r.reduce(0.0) { $0 + Q[$1] * k[$1] } / Double(dh).squareRoot() }
            let m = logits.max()!
            let w = logits.map { exp($0 - m) }
            let total = w.reduce(0, +)
            for (j, v) in V.enumerated() { for i in r { o[i] += w[j] / total * v[i] } }
        }
        return linear(model.output, o)
    }

    func probability(user: String, candidate: String, mode: Scorer.Mode, log: [Behavior]) -> Double {
        probability(history(user, log), candidate: candidate, mode: mode)
    }

    func probability(_ h: History, candidate: String, mode: Scorer.Mode) -> Double {
        let c = model.config
        let seq = h.vectors
        let q = e(candidate)
        let uLong: [Double]
        switch mode {
        case .bse, .online: uLong = long(q, seq, h.signatures)
        case .full: uLong = attention(q, seq)
        case .short: uLong = [Double](repeating: 0, count: c.d)
        }
        let uShort = attention(q, Array(seq.suffix(c.window)))
        let z = q + uLong + uShort + zip(q, uLong).map(*) + zip(q, uShort).map(*)
        let h1 = linear(model.mlp[0], z).map { max($0, 0) }
        let h2 = linear(model.mlp[1], h1).map { max($0, 0) }
        let logit = linear(model.mlp[2], h2)[0]
        return 1 / (1 + exp(-logit))
    }
}

@Suite("Scorer: every mode against MODEL.md recomputed in float64")
struct ScorerTests {
    static let candidates = (0..<60).map { "i\($0)" } + ["never-seen", ""]

    @Test("bse and online agree to 1e-5 on every user; each mode equals the float64 brute force")
    func modesAgreeWithReference() throws {
        let f = try ScoringFixture()
        let scorer = try Scorer(model: f.model, store: f.store)
        let reference = Reference(model: f.model, catalog: f.data.items)
        for u in 0..<9 {
            let user = "u\(u)"
            let bse = try scorer.score(user: user, candidates: Self.candidates, mode: .bse)
            let online = try scorer.score(user: user, candidates: Self.candidates, mode: .online)
            #expect(bse.count == Self.candidates.count)
            for i in bse.indices { #expect(abs(bse[i] - online[i]) < 1e-5, "\(user) \(Self.candidates[i])") }
            try Self.expectEveryModeMatches(scorer, reference, user: user, log: f.data.behaviors)
        }
    }

    @Test(
        "a v2 bundle (behaviors carry their feedback): every mode equals the float64 brute force; appends carry labels"
    )
    func feedback() throws {
        let f = try ScoringFixture(feedback: true)
        #expect(f.model.config.feedback)
        #expect(Set(f.data.behaviors.map(\.label)).count == 3)
        let scorer = try Scorer(model: f.model, store: f.store, writable: true)
        let reference = Reference(model: f.model, catalog: f.data.items)
        for u in 0..<9 {
            let user = "u\(u)"
            let bse = try scorer.score(user: user, candidates: Self.candidates, mode: .bse)
            let online = try scorer.score(user: user, candidates: Self.candidates, mode: .online)
            for i in bse.indices { #expect(abs(bse[i] - online[i]) < 1e-5, "\(user) \(Self.candidates[i])") }
            try Self.expectEveryModeMatches(scorer, reference, user: user, log: f.data.behaviors)
        }
        // An append carries its label: u5 after a clicked append equals the reference with that click…
        let last = f.data.behaviors.filter { $0.user == "u5" }.map(\.timestamp).max() ?? 0
        try scorer.append(user: "u5", item: "i3", timestamp: last + 1, label: true)
        let clicked = f.data.behaviors + [Behavior(user: "u5", item: "i3", timestamp: last + 1, label: true)]
        try Self.expectEveryModeMatches(scorer, reference, user: "u5", log: clicked)
        // …and the label matters: the same behavior not clicked would score otherwise.
        let notClicked = f.data.behaviors + [Behavior(user: "u5", item: "i3", timestamp: last + 1, label: false)]
        let changed = Self.candidates.filter { item in
            abs(
                reference.probability(user: "u5", candidate: item, mode: .bse, log: clicked)
                    - reference.probability(user: "u5", candidate: item, mode: .bse, log: notClicked)) > 1e-4
        }
        #expect(!changed.isEmpty)

        // A damaged feedback byte (the scorer does not checksum per request) is an error, not a read past F.
        let chunk = Store.chunkKey(user: "u8", chunk: 0)
        var bytes = try #require(try f.store.environment.read { try $0.get(f.store.sequences, chunk) })
        bytes[12] = 9
        try f.store.environment.write { try $0.put(f.store.sequences, chunk, bytes) }
        #expect { try scorer.score(user: "u8", candidates: ["i1"], mode: .online) } throws: {
            "\($0)".contains("feedback 9")
        }
        _ = try scorer.score(user: "u8", candidates: ["i1"], mode: .bse)  // bse reads the record only
        var record = try #require(
            try f.store.environment.read { try $0.get(f.store.users, "u8") { try UserRecord(decoding: $0) } })
        record.window[0].feedback = 9
        try f.store.environment.write { try $0.put(f.store.users, "u8", record.encoded(precision: .f32)) }
        #expect { try scorer.score(user: "u8", candidates: ["i1"], mode: .bse) } throws: {
            "\($0)".contains("feedback 9")
        }
    }

    @Test("a bundle with text atoms: every mode equals the float64 brute force with x(text) from the text model")
    func textAtoms() throws {
        let textModel = try MiniLM(
            folder: (ProcessInfo.processInfo.environment["LIFELONG_DATA"]
                ?? repositoryRoot.appendingPathComponent("Data").path)
                + "/all-MiniLM-L6-v2")
        let f = try ScoringFixture(textModel: textModel)
        #expect(f.model.config.dText == 5)
        let scorer = try Scorer(model: f.model, store: f.store)
        var reference = Reference(model: f.model, catalog: f.data.items)
        for (id, info) in f.data.items {
            if let t = info.text { reference.text[id] = try textModel.embed([t], layers: 1)[0].vector }
        }
        for u in [1, 5, 7, 8] {
            try Self.expectEveryModeMatches(scorer, reference, user: "u\(u)", log: f.data.behaviors)
        }

        // Another writer appends an item this scorer has never seen, with a text, to u7's window and sequence:
        // the open scorer reads the item, its text atom included, on the next request.
        let last = f.data.behaviors.filter { $0.user == "u7" }.map(\.timestamp).max() ?? 0
        let added = Behavior(user: "u7", item: "brand-new", timestamp: last + 1)
        let info = ItemInfo(category: "c2", text: "A Brand New Film (2026)")
        _ = try BehaviorEncoder(model: f.model, store: f.store, textModel: textModel).append(
            Dataset(behaviors: [added], items: ["brand-new": info]))
        var catalog = f.data.items
        catalog["brand-new"] = info
        var after = Reference(model: f.model, catalog: catalog)
        after.text = reference.text
        after.text["brand-new"] = try textModel.embed([info.text!], layers: 1)[0].vector
        try Self.expectEveryModeMatches(scorer, after, user: "u7", log: f.data.behaviors + [added])
    }

    /// Every mode's probabilities for `user` equal the float64 reference to 1e-5.
    static func expectEveryModeMatches(_ scorer: Scorer, _ reference: Reference, user: String, log: [Behavior]) throws {
        let h = reference.history(user, log)
        for mode in Scorer.Mode.allCases {
            let p = try scorer.score(user: user, candidates: candidates, mode: mode)
            for (i, item) in candidates.enumerated() {
                let want = reference.probability(h, candidate: item, mode: mode)
                #expect(abs(Double(p[i]) - want) < 1e-5, "\(mode) \(user) \(item): \(p[i]) vs \(want)")
            }
        }
    }

    @Test("the modes differ where they should: full ≠ bse ≠ short for a user with history")
    func modesAreDistinct() throws {
        let f = try ScoringFixture()
        let scorer = try Scorer(model: f.model, store: f.store)
        let p = try Scorer.Mode.allCases.map { try scorer.score(user: "u8", candidates: Self.candidates, mode: $0) }
        #expect(p[0] != p[2] && p[0] != p[3] && p[2] != p[3])
    }

    @Test("a warm bse request performs no heap allocation (the counter sees one where there is one)")
    func warmRequestAllocatesNothing() throws {
        let f = try ScoringFixture(feedback: true)
        let scorer = try Scorer(model: f.model, store: f.store)
        let candidates = (0..<200).map { "i\($0 % 60)" }
        var out = [Float](repeating: 0, count: candidates.count)
        for user in ["u8", "nobody"] {
            try out.withUnsafeMutableBufferPointer {
                try scorer.score(user: user, candidates: candidates, mode: .bse, into: $0)
            }
            lifelong_allocations_start()
            for _ in 0..<20 {
                try out.withUnsafeMutableBufferPointer {
                    try scorer.score(user: user, candidates: candidates, mode: .bse, into: $0)
                }
            }
            #expect(lifelong_allocations_stop() == 0, "user \(user)")
        }
        // The array-returning form allocates its result: the counter must see that.
        lifelong_allocations_start()
        let p = try scorer.score(user: "u8", candidates: candidates, mode: .bse)
        #expect(lifelong_allocations_stop() > 0 && p.count == candidates.count)
    }

    @Test("a cold user is scored with no history (u_long = u_short = 0), known and unknown items alike")
    func coldUser() throws {
        let f = try ScoringFixture()
        let scorer = try Scorer(model: f.model, store: f.store)
        let reference = Reference(model: f.model, catalog: f.data.items)
        for mode in Scorer.Mode.allCases {
            let p = try scorer.score(user: "nobody", candidates: ["i1", "zzz"], mode: mode)
            for (i, item) in ["i1", "zzz"].enumerated() {
                #expect(
                    abs(Double(p[i]) - reference.probability(user: "nobody", candidate: item, mode: mode, log: []))
                        < 1e-6)
            }
        }
    }

    @Test("f16 stores score within half-precision error of f32 stores")
    func halfPrecision() throws {
        let f32 = try ScoringFixture(), f16 = try ScoringFixture(precision: .f16)
        let a = try Scorer(model: f32.model, store: f32.store), b = try Scorer(model: f16.model, store: f16.store)
        var worst: Float = 0
        for u in 0..<9 {
            let x = try a.score(user: "u\(u)", candidates: Self.candidates),
                y = try b.score(user: "u\(u)", candidates: Self.candidates)
            for i in x.indices { worst = max(worst, abs(x[i] - y[i])) }
        }
        #expect(worst < 1e-3)
    }

    @Test("a store encoded with another model is refused, naming both fingerprints")
    func fingerprintMismatch() throws {
        let f = try ScoringFixture()
        var shape = ModelBundle.Shape()
        shape.dItem = 12; shape.dCat = 4; shape.m = 12; shape.window = 6; shape.attentionDim = 8;
        shape.hidden = [16, 8]
        try ModelBundle.writeRandom(to: f.root + "/other", items: ["i1"], categories: ["c1"], shape: shape, seed: 99)
        let other = try ModelBundle(folder: f.root + "/other")
        #expect { try Scorer(model: other, store: f.store) } throws: { error in
            let s = "\(error)"
            return s.contains(other.fingerprintHex) && s.contains(f.model.fingerprintHex)
        }
    }

    @Test(
        "a lifelong.store.v1 store (no feedback in its entries) is refused by the scorer and the encoder"
    )
    func oldStoreFormat() throws {
        let f = try ScoringFixture()
        try f.store.environment.write { try $0.put(f.store.metaDatabase, "format", "lifelong.store.v1") }
        #expect { try Scorer(model: f.model, store: f.store) } throws: {
            "\($0)".contains("lifelong.store.v1") && "\($0)".contains("re-encode")
        }
        #expect { try BehaviorEncoder(model: f.model, store: f.store) } throws: {
            "\($0)".contains("lifelong.store.v1") && "\($0)".contains("lifelong.store.v3")
        }
    }

    @Test("append makes the new behavior count, O(m·d), and equals encoding it from the start")
    func appendMatchesEncode() throws {
        let f = try ScoringFixture()
        let scorer = try Scorer(model: f.model, store: f.store, writable: true)
        try scorer.append(user: "u5", item: "i3", timestamp: 10_000)
        try scorer.append(user: "new", item: "i4", timestamp: 5)
        let reference = Reference(model: f.model, catalog: f.data.items)
        let log =
            f.data.behaviors + [
                Behavior(user: "u5", item: "i3", timestamp: 10_000), Behavior(user: "new", item: "i4", timestamp: 5),
            ]
        for user in ["u5", "new"] {
            for mode in Scorer.Mode.allCases {
                let p = try scorer.score(user: user, candidates: ["i3", "i9"], mode: mode)
                for (i, item) in ["i3", "i9"].enumerated() {
                    #expect(
                        abs(Double(p[i]) - reference.probability(user: user, candidate: item, mode: mode, log: log))
                            < 1e-5)
                }
            }
        }
        #expect { try scorer.append(user: "u5", item: "i3", timestamp: 9_999) } throws: { "\($0)".contains("older") }
        let readOnly = try Scorer(model: f.model, store: f.store)
        #expect { try readOnly.append(user: "u5", item: "i3", timestamp: 20_000) } throws: {
            "\($0)".contains("read-only")
        }
    }

    @Test("candidate entries follow appends (a changed category, a new item) and equal the float64 reference")
    func candidateEntriesFollowAppends() throws {
        let f = try ScoringFixture()
        let scorer = try Scorer(model: f.model, store: f.store, writable: true)
        let history = Set(f.data.behaviors.filter { $0.user == "u1" }.map(\.item))
        let moved = (0..<50).map { "i\($0)" }.first { !history.contains($0) && f.data.items[$0]?.category != "c3" }!
        let candidates = [moved, "i60", "never-seen", history.first!, "i55"]
        let before = try scorer.score(user: "u1", candidates: candidates)
        try scorer.append(user: "u0", item: moved, timestamp: 50, category: "c3")
        try scorer.append(user: "u0", item: "i60", timestamp: 60, category: "c1")
        var catalog = f.data.items
        catalog[moved] = ItemInfo(category: "c3")
        catalog["i60"] = ItemInfo(category: "c1")
        let reference = Reference(model: f.model, catalog: catalog)
        let log =
            f.data.behaviors + [
                Behavior(user: "u0", item: moved, timestamp: 50), Behavior(user: "u0", item: "i60", timestamp: 60),
            ]
        for mode in Scorer.Mode.allCases {
            let p = try scorer.score(user: "u1", candidates: candidates, mode: mode)
            for (i, item) in candidates.enumerated() {
                let expected = reference.probability(user: "u1", candidate: item, mode: mode, log: log)
                #expect(abs(Double(p[i]) - expected) < 1e-5, "\(mode) \(item)")
            }
        }
        let after = try scorer.score(user: "u1", candidates: candidates)
        #expect(after[0] != before[0], "the moved item is scored with its new category")
        #expect(after[2] == before[2], "an unknown item keeps row 0's entry")
        let reopened = try Scorer(model: f.model, store: f.store)
        #expect(try reopened.score(user: "u1", candidates: candidates) == after)
    }

    @Test("threads scoring while one appends see each append entirely or not at all")
    func concurrentScoringAndAppend() throws {
        let f = try ScoringFixture()
        let scorer = try Scorer(model: f.model, store: f.store, writable: true)
        let candidates = Array(Self.candidates.prefix(40))
        let states = Mutex<Set<[Float]>>([try scorer.score(user: "u7", candidates: candidates)])
        let observed = Mutex<[[Float]]>([])
        let stop = Atomic<Bool>(false)
        let done = DispatchGroup()  // readers on their own threads, not the cooperative pool
        for _ in 0..<3 {
            done.enter()
            Thread.detachNewThread {
                defer { done.leave() }
                var mine: [[Float]] = []
                while !stop.load(ordering: .acquiring) {
                    mine.append(try! scorer.score(user: "u7", candidates: candidates))
                }
                observed.withLock { $0 += mine }
            }
        }
        for k in 0..<40 {
            try scorer.append(user: "u7", item: "i\(k % 50)", timestamp: 1_000 + Double(k))
            let p = try scorer.score(user: "u7", candidates: candidates)
            states.withLock { _ = $0.insert(p) }
        }
        stop.store(true, ordering: .releasing)
        done.wait()
        let seen = observed.withLock { $0 }
        let valid = states.withLock { $0 }
        #expect(valid.count > 30, "the appends changed the scores")
        #expect(seen.count > 3)
        #expect(seen.allSatisfy { valid.contains($0) }, "a score matched no committed state")
    }
}

@Suite("Independent bundle: written by Fixtures/independent/make_fixture.py (numpy + safetensors)")
struct IndependentBundleTests {
    struct Expected: Decodable {
        struct Row: Decodable { let user: String; let item: String; let mode: String; let p: Double }
        let rows: [Row]
    }

    @Test("scores equal the Python reference in every mode")
    func matchesPython() throws {
        let folder = repositoryRoot.appendingPathComponent("Fixtures/independent").path
        let model = try ModelBundle(folder: folder + "/model")
        let data = try Dataset.load(folder + "/log")
        let root = temporaryFolder("indep")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try Store(path: root)
        _ = try BehaviorEncoder(model: model, store: store).encode(data)
        let scorer = try Scorer(model: model, store: store)
        let expected = try JSONDecoder().decode(
            Expected.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/expected.json")))
        #expect(expected.rows.count >= 40)
        for row in expected.rows {
            let p = try scorer.score(user: row.user, candidates: [row.item], mode: Scorer.Mode(rawValue: row.mode)!)[0]
            #expect(abs(Double(p) - row.p) < 1e-5, "\(row.mode) \(row.user) \(row.item): \(p) vs \(row.p)")
        }
    }
}
