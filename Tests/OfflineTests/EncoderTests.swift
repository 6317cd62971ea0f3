import Errors
import Foundation
import Testing
import Tensors
import BehaviorLog
import TestSupport
import LMDB
import TextEncoder
import CKernels
@testable import Offline
@testable import Model
@testable import Store

/// all-MiniLM-L6-v2 as Tools/setup.sh fetches it.
let minilmFolder = Repository.miniLM

/// A small synthetic log with ties in timestamps and ids that sort differently as bytes and as numbers.
func syntheticDataset(users: Int = 12, items: Int = 40, length: ClosedRange<Int> = 0...90, seed: UInt64 = 7) -> Dataset
{
    var g = Gaussian(seed: seed)
    var behaviors: [Behavior] = []
    for u in 0..<users {
        let n = length.lowerBound + Int(g.bits() % UInt64(length.count))
        var t = 1_000_000.0
        for _ in 0..<n {
            t += Double(g.bits() % 3)  // many equal timestamps
            behaviors.append(
                Behavior(user: "u\(u)", item: String(g.bits() % UInt64(items)), timestamp: t, label: g.bits() % 2 == 0))
        }
    }
    behaviors.shuffle(using: &g)
    var catalog: [String: ItemInfo] = [:]
    for i in 0..<items where i % 7 != 0 { catalog[String(i)] = ItemInfo(category: "c\(i % 5)", text: "item \(i)") }
    return Dataset(behaviors: behaviors, items: catalog)
}

/// A random bundle over the dataset's ids, leaving a few items out of the vocabulary (row 0).
func makeBundle(_ data: Dataset, folder: String, seed: UInt64 = 3, feedback: Bool = false) throws -> ModelBundle {
    let items = Set(data.behaviors.map(\.item)).filter { $0 != "3" }.sorted()
    let cats = Set(data.items.values.compactMap(\.category)).sorted()
    var shape = ModelBundle.Shape()
    shape.dItem = 8; shape.dCat = 4; shape.window = 5; shape.hidden = [16, 8]; shape.attentionDim = 8
    shape.feedback = feedback
    try ModelBundle.writeRandom(to: folder, items: items, categories: cats, shape: shape, seed: seed)
    return try ModelBundle(folder: folder)
}

@Suite("SDIM signatures and Eq. 12 against Fixtures/golden/sdim_eq12.json")
struct GoldenTests {
    struct Case: Decodable {
        let d: Int, m: Int, tau: Int, L: Int
        let projection: [[Double]], behaviors: [[Double]], candidate: [Double]
        let candidate_signatures: [Int], bucket_counts: [[Int]], u_long: [Double]
    }

    @Test("every golden case: signatures and counts exactly, u_long to 1e-5")
    func golden() throws {
        let data = try Data(contentsOf: Repository.golden("sdim_eq12.json"))
        struct File: Decodable { let cases: [Case] }
        let cases = try JSONDecoder().decode(File.self, from: data).cases
        #expect(cases.count == 6)
        for c in cases {
            let p = c.projection.flatMap { $0.map(Float.init) }
            let nSig = c.m / c.tau, buckets = 1 << c.tau
            var sig = [UInt8](repeating: 0, count: nSig)
            let q = c.candidate.map(Float.init)
            SimHash.signatures(of: q, d: c.d, projection: p, m: c.m, tau: c.tau, into: &sig)
            #expect(sig.map(Int.init) == c.candidate_signatures, "case d=\(c.d) L=\(c.L)")
            var record = UserRecord(
                nSig: nSig, buckets: buckets, d: c.d, windowCapacity: 0, fingerprint: [UInt8](repeating: 0, count: 32))
            for b in c.behaviors {
                let v = b.map(Float.init)
                var s = [UInt8](repeating: 0, count: nSig)
                SimHash.signatures(of: v, d: c.d, projection: p, m: c.m, tau: c.tau, into: &s)
                record.append(vector: v, signature: s, entry: .init(item: 0, itemRow: 0, categoryRow: 0), timestamp: 0)
            }
            #expect(record.counts.map(Int.init) == c.bucket_counts.flatMap { $0 }, "case d=\(c.d) L=\(c.L)")
            var u = [Float](repeating: 0, count: c.d)
            SimHash.longInterest(sums: record.sums, signature: sig, nSig: nSig, buckets: buckets, d: c.d, into: &u)
            for j in 0..<c.d { #expect(abs(Double(u[j]) - c.u_long[j]) < 1e-5, "case d=\(c.d) L=\(c.L) j=\(j)") }
        }
    }

    @Test("collision rate of random unit vectors at angle θ matches (1 − θ/π)^τ")
    func collisionRate() {
        var g = Gaussian(seed: 11)
        let d = 32, m = 48, tau = 3, nSig = m / tau
        let trials = 1_500
        for theta in [0.3, 1.0, 2.0] {
            var same = 0
            for _ in 0..<trials {
                // Orthonormal pair a, b ⟂ a; v = cos θ a + sin θ b.
                var a = (0..<d).map { _ in g.normal() }, b = (0..<d).map { _ in g.normal() }
                let na = SimHash.dot(a, a, d).squareRoot(); a = a.map { $0 / na }
                let ab = SimHash.dot(a, b, d); b = zip(b, a).map { $0 - ab * $1 }
                let nb = SimHash.dot(b, b, d).squareRoot(); b = b.map { $0 / nb }
                let v = zip(a, b).map { Float(cos(theta)) * $0 + Float(sin(theta)) * $1 }
                let p = (0..<(m * d)).map { _ in g.normal() }
                var sa = [UInt8](repeating: 0, count: nSig), sv = sa
                SimHash.signatures(of: a, d: d, projection: p, m: m, tau: tau, into: &sa)
                SimHash.signatures(of: v, d: d, projection: p, m: m, tau: tau, into: &sv)
                same += zip(sa, sv).filter { $0 == $1 }.count
            }
            let n = Double(trials * nSig)
            let rate = Double(same) / n
            let expected = pow(1 - theta / .pi, Double(tau))
            // Signatures of one trial share a vector pair, so allow 5 standard errors of the trial mean.
            let se = (expected * (1 - expected) / Double(trials)).squareRoot()
            #expect(abs(rate - expected) < 5 * se, "θ=\(theta): rate \(rate) expected \(expected)")
        }
    }
}

@Suite("Building blocks: CRC-32C, batched signatures, batched aggregation")
struct BuildingBlockTests {
    @Test("CRC-32C, hardware and table variants, gives the standard check value and reads skipped bytes as zero")
    func crc() {
        let check = Array("123456789".utf8)
        #expect(check.withUnsafeBytes { CRC32C.checksum($0) } == 0xE306_9283)
        var g = Gaussian(seed: 3)
        for n in [0, 1, 7, 8, 9, 44, 45, 1000] {
            let bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: g.bits()) }
            // Bitwise reference: the textbook reflected algorithm, one bit at a time.
            func reference(_ b: [UInt8]) -> UInt32 {
                var c: UInt32 = 0xFFFF_FFFF
                for x in b {
                    c ^= UInt32(x)
                    for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
                }
                return ~c
            }
            #expect(bytes.withUnsafeBytes { CRC32C.checksum($0) } == reference(bytes), "n = \(n)")
            var zeroed = bytes
            for i in 40..<44 where i < n { zeroed[i] = 0 }
            #expect(bytes.withUnsafeBytes { CRC32C.checksum($0, zeroing: 40..<44) } == reference(zeroed), "n = \(n)")
            #expect(bytes.withUnsafeBytes { CRC32C.portableChecksum($0) } == reference(bytes), "n = \(n)")
            #expect(
                bytes.withUnsafeBytes { CRC32C.portableChecksum($0, zeroing: 3..<30) }
                    == reference(bytes.enumerated().map { (3..<30).contains($0.offset) ? 0 : $0.element }),
                "n = \(n)")
        }
    }

    @Test(
        "Rows.add (the kernel chosen at load) and the baseline kernel equal a row-order scalar sum, bit for bit"
    )
    func rowsAdd() {
        var g = Gaussian(seed: 9)
        for d in [1, 7, 8, 15, 16, 17, 31, 32, 33, 48, 70, 128] {
            let n = 23
            let vectors = (0..<(n * d)).map { _ in g.normal() }
            let rows = (0..<40).map { _ in Int(g.bits() % UInt64(n)) }  // repeats included
            let start = (0..<d).map { _ in g.normal() }
            var expected = start
            for k in 0..<d { for r in rows { expected[k] += vectors[r * d + k] } }
            var chosen = start, baseline = start
            Rows.add(rows, rows.count, of: vectors, d: d, into: &chosen)
            lifelong_rows_add_baseline(rows, rows.count, vectors, d, &baseline)
            #expect(chosen == expected, "d = \(d)")
            #expect(baseline == expected, "d = \(d)")
        }
    }

    @Test(
        "the item interner gives dense first-seen indices keyed by UTF-8 bytes (like the store), through growth"
    )
    func interner() {
        var g = Gaussian(seed: 21)
        var interner = Interner(capacity: 4)
        var reference: [[UInt8]: Int] = [:]
        let alphabet = ["a", "1", "é", "e\u{301}", "漢", "-", " "]
        for _ in 0..<20_000 {
            let id = (0..<(1 + Int(g.bits() % 4))).map { _ in alphabet[Int(g.bits() % UInt64(alphabet.count))] }
                .joined()
            let expected = reference[Array(id.utf8), default: reference.count]
            if expected == reference.count { reference[Array(id.utf8)] = expected }
            #expect(interner.index(of: id) == expected, "\(id)")
        }
        #expect(interner.count == reference.count && interner.ids.count == reference.count)
        // Every id again: the same index, nothing added.
        for (bytes, i) in reference {
            #expect(
                interner.index(of: String(decoding: bytes, as: UTF8.self)) == i && Array(interner.ids[i].utf8) == bytes)
        }
        #expect(interner.count == reference.count)
        #expect(interner.index(of: "é") != interner.index(of: "e\u{301}"))
    }

    @Test("signatures from one BLAS product equal the per-vector dot products")
    func blasSignatures() throws {
        let root = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        var shape = ModelBundle.Shape()
        shape.dItem = 40; shape.dCat = 24
        try ModelBundle.writeRandom(to: root, items: ["a"], categories: ["c"], shape: shape, seed: 11)
        let model = try ModelBundle(folder: root)
        let c = model.config
        var g = Gaussian(seed: 5)
        let n = 5000  // more than one 4096-row block
        let vectors = (0..<(n * c.d)).map { _ in g.normal() }
        let batched = model.signatures(ofRows: vectors, count: n)
        var one = [UInt8](repeating: 0, count: c.signatures)
        var mismatches = 0
        for i in 0..<n {
            vectors.withUnsafeBufferPointer { v in
                SimHash.signatures(
                    of: v.baseAddress! + i * c.d, d: c.d, projection: model.projection, m: c.m, tau: c.tau, into: &one)
            }
            if Array(batched[(i * c.signatures)..<((i + 1) * c.signatures)]) != one { mismatches += 1 }
        }
        // Summation order differs between BLAS and the scalar loop, so a projection within rounding of 0
        // may flip; with N(0,1) data that is vanishingly rare.
        #expect(mismatches <= 1)
    }
}

@Suite("Model bundle and safetensors")
struct BundleTests {
    @Test("a written bundle loads with its shapes, and the fingerprint is SHA-256 of model then vocab")
    func roundTrip() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let bundle = try makeBundle(syntheticDataset(), folder: folder)
        #expect(
            bundle.config.d == 12 && bundle.config.m == 48 && bundle.config.tau == 3 && bundle.config.signatures == 16)
        #expect(bundle.projection.count == 48 * 12)
        let shasum = Process()
        shasum.executableURL = URL(fileURLWithPath: "/bin/sh")
        shasum.arguments = ["-c", "cat '\(folder)/model.safetensors' '\(folder)/vocab.tsv' | sha256sum"]
        let pipe = Pipe()
        shasum.standardOutput = pipe
        try shasum.run()
        shasum.waitUntilExit()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(out.hasPrefix(bundle.fingerprintHex))
    }
}

/// Brute-force recomputation of a user's record from the stored sequence and the bundle (float64 sums);
/// `text(raw item id)` gives the item's x(text) for a bundle with a text projection. In a v2 bundle the
/// signature is of `e(item)` and the sum adds `e(item) + F[feedback]` (docs/MODEL.md, v2).
func bruteForce(
    _ model: ModelBundle, _ store: Store, user: String,
    text: (String) -> [Float]? = { _ in nil }
) throws -> (counts: [Int], sums: [Double], window: [UInt32], length: Int) {
    let c = model.config
    var sequence: [UInt32] = [], feedback: [Int] = []
    try store.environment.read { txn in
        var prefix = Array(user.utf8); prefix.append(0)
        try txn.scan(store.sequences, prefix: prefix) { _, v in
            // Entries: u32 store item id, f64 timestamp, u8 feedback.
            for i in stride(from: 0, to: v.count, by: 13) {
                sequence.append(v.littleEndian(UInt32.self, at: i))
                feedback.append(Int(v[i + 12]))
            }
            return .next
        }
    }
    var counts = [Int](repeating: 0, count: c.signatures * c.buckets)
    var sums = [Double](repeating: 0, count: c.signatures * c.buckets * c.d)
    try store.environment.read { txn in
        for (id, f) in zip(sequence, feedback) {
            let raw = try #require(try txn.get(store.itemIds, id) { String(decoding: $0, as: UTF8.self) })
            let item = try #require(try txn.get(store.items, raw) { try ItemRecord(decoding: $0) })
            var v = [Float](repeating: 0, count: c.d)
            if let x = text(raw) {
                x.withUnsafeBufferPointer {
                    model.embed(
                        itemRow: Int(item.itemRow), categoryRow: Int(item.categoryRow), text: $0.baseAddress!, into: &v)
                }
            } else {
                model.embed(itemRow: Int(item.itemRow), categoryRow: Int(item.categoryRow), into: &v)
            }
            for g in 0..<c.signatures {
                // Signature recomputed in float64 from the projection, independent of SimHash.
                var bucket = 0
                for t in 0..<c.tau {
                    let k = g * c.tau + t
                    let dot = (0..<c.d).reduce(0.0) { $0 + Double(model.projection[k * c.d + $1]) * Double(v[$1]) }
                    if dot > 0 { bucket |= 1 << t }
                }
                let b = g * c.buckets + bucket
                counts[b] += 1
                for j in 0..<c.d {
                    sums[b * c.d + j] += Double(v[j]) + (c.feedback ? Double(model.feedbackEmbedding[f * c.d + j]) : 0)
                }
            }
        }
    }
    return (counts, sums, Array(sequence.suffix(c.window)), sequence.count)
}

/// A temporary folder holding a synthetic dataset's random bundle (`root/model`); call `remove()` in a defer.
struct EncoderFixture {
    let root = temporaryFolder()
    let data: Dataset
    let model: ModelBundle
    init(_ data: Dataset, feedback: Bool = false) throws {
        self.data = data
        model = try makeBundle(data, folder: root + "/model", feedback: feedback)
    }
    func remove() { try? FileManager.default.removeItem(atPath: root) }
}

/// Every stored user's record next to its brute-force recomputation, after checking the counts (exactly)
/// and the sums (to 1e-4) against it.
func checkedAgainstBruteForce(
    _ model: ModelBundle, _ store: Store, text: (String) -> [Float]? = { _ in nil }
)
    throws -> [(
        user: String, record: UserRecord, bruteForce: (counts: [Int], sums: [Double], window: [UInt32], length: Int)
    )]
{
    try records(store).map { user, bytes in
        let r = try bytes.withUnsafeBytes { try UserRecord(decoding: $0) }
        let bf = try bruteForce(model, store, user: user, text: text)
        #expect(r.counts.map(Int.init) == bf.counts, "\(user)")
        for i in r.sums.indices { #expect(abs(Double(r.sums[i]) - bf.sums[i]) < 1e-4, "\(user) sum \(i)") }
        return (user, r, bf)
    }
}

func records(_ store: Store) throws -> [String: [UInt8]] {
    var out: [String: [UInt8]] = [:]
    try store.environment.read { txn in
        try txn.scan(store.users) { k, v in
            out[String(decoding: k, as: UTF8.self)] = Array(v); return .next
        }
    }
    return out
}

@Suite("BSE encoder and store")
struct EncoderTests {
    @Test("stored sums and counts equal a brute-force recomputation from the sequence, for every user")
    func bruteForceAgreement() throws {
        let fixture = try EncoderFixture(syntheticDataset())
        defer { fixture.remove() }
        let (root, data, model) = (fixture.root, fixture.data, fixture.model)
        let store = try Store(path: root + "/store")
        let report = try BehaviorEncoder(model: model, store: store).encode(data, batch: 5)
        #expect(report.itemsEmbedded == Set(data.behaviors.map(\.item)).count, "each distinct item embedded once")
        #expect(report.behaviors == data.behaviors.count)
        let checked = try checkedAgainstBruteForce(model, store)
        #expect(checked.count == Set(data.behaviors.map(\.user)).count)
        for (user, r, bf) in checked {
            #expect(r.window.map(\.item) == bf.window)
            #expect(Int(r.length) == bf.length)
            for g in 0..<model.config.signatures {
                #expect(r.counts[(g * r.buckets)..<((g + 1) * r.buckets)].reduce(0, +) == UInt32(r.length))
            }
            // The sequence is in (timestamp, item id as bytes) order.
            let mine = data.behaviors.filter { $0.user == user }.sorted(by: Behavior.precedes)
            #expect(r.lastTimestamp == mine.last!.timestamp)
        }
    }

    @Test(
        "v2 (feedback): sums add e(item) + F[feedback] under e(item)'s signatures; window and sequence keep feedback"
    )
    func feedbackBruteForce() throws {
        var data = syntheticDataset()
        // Unknown feedback too.
        for j in stride(from: 0, to: data.behaviors.count, by: 5) { data.behaviors[j].label = nil }
        let root = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let model = try makeBundle(data, folder: root + "/model", feedback: true)
        #expect(model.config.feedback)
        let store = try Store(path: root + "/store")
        _ = try BehaviorEncoder(model: model, store: store).encode(data, batch: 5)
        for (user, r, bf) in try checkedAgainstBruteForce(model, store) {
            #expect(r.window.map(\.item) == bf.window)
            let mine = data.behaviors.filter { $0.user == user }.sorted(by: Behavior.precedes)
            #expect(
                r.window.map(\.feedback) == mine.suffix(r.window.count).map { Feedback($0.label).rawValue }, "\(user)")
            let stored = try store.environment.read { txn in try store.sequenceEntries(txn, user: user, 0..<mine.count)
            }
            #expect(stored?.map(\.feedback) == mine.map { Feedback($0.label).rawValue }, "\(user)")
        }
        // The same log under the v1 bundle of the same seed: same counts (the hash ignores feedback), other sums.
        let v1 = try makeBundle(data, folder: root + "/v1")
        let v1Store = try Store(path: root + "/v1store")
        _ = try BehaviorEncoder(model: v1, store: v1Store).encode(data, batch: 5)
        let a = try records(store), b = try records(v1Store)
        for user in a.keys {
            let ra = try a[user]!.withUnsafeBytes { try UserRecord(decoding: $0) },
                rb = try b[user]!.withUnsafeBytes { try UserRecord(decoding: $0) }
            #expect(ra.counts == rb.counts, "\(user)")
            if ra.length > 0 { #expect(ra.sums != rb.sums, "\(user)") }
        }
    }

    @Test("encode(first half) + append(second half) equals encode(all), byte for byte")
    func encodeThenAppend() throws {
        let fixture = try EncoderFixture(syntheticDataset())
        defer { fixture.remove() }
        let (root, data, model) = (fixture.root, fixture.data, fixture.model)
        let all = try Store(path: root + "/all")
        _ = try BehaviorEncoder(model: model, store: all).encode(data)
        var first: [Behavior] = [], second: [Behavior] = []
        for (_, bs) in BehaviorEncoder.grouped(data.behaviors, shard: nil) {
            let half = bs.count / 2
            first += bs[..<half]
            second += bs[half...]
        }
        let split = try Store(path: root + "/split")
        let enc = try BehaviorEncoder(model: model, store: split)
        _ = try enc.encode(Dataset(behaviors: first, items: data.items))
        let rep = try enc.append(Dataset(behaviors: second, items: data.items), batch: 3)
        #expect(rep.itemsReused > 0)
        let a = try records(all), b = try records(split)
        #expect(a.keys.sorted() == b.keys.sorted())
        for k in a.keys { #expect(a[k] == b[k], "user \(k)") }
    }

    @Test("encoding the same input twice gives byte-identical records; shards partition the users")
    func determinismAndShards() throws {
        let fixture = try EncoderFixture(syntheticDataset())
        defer { fixture.remove() }
        let (root, data, model) = (fixture.root, fixture.data, fixture.model)
        let one = try Store(path: root + "/one"), two = try Store(path: root + "/two")
        _ = try BehaviorEncoder(model: model, store: one).encode(data)
        _ = try BehaviorEncoder(model: model, store: two).encode(data, batch: 1)
        #expect(try records(one) == records(two))
        // Store item ids are local to a store, so shards are compared on everything else.
        func modelPart(_ bytes: [UInt8]) throws -> UserRecord {
            var r = try bytes.withUnsafeBytes { try UserRecord(decoding: $0) }
            for i in r.window.indices { r.window[i].item = 0 }
            return r
        }
        var union: [String: UserRecord] = [:]
        for k in 0..<3 {
            let s = try Store(path: root + "/shard\(k)")
            _ = try BehaviorEncoder(model: model, store: s).encode(data, shard: (k, 3))
            for (u, r) in try records(s) { #expect(union.updateValue(try modelPart(r), forKey: u) == nil) }
        }
        #expect(union == (try records(one).mapValues(modelPart)))
    }

    @Test("a map that grows in the middle of a batch gives the same records as one that never fills")
    func mapGrowthMidBatch() throws {
        let fixture = try EncoderFixture(syntheticDataset())
        defer { fixture.remove() }
        let (root, data, model) = (fixture.root, fixture.data, fixture.model)
        let roomy = try Store(path: root + "/roomy")
        _ = try BehaviorEncoder(model: model, store: roomy).encode(data)
        // 64 KiB: the map is full, grown and the batch's transaction re-run many times over.
        let tight = try Store(path: root + "/tight", mapSize: 64 << 10)
        _ = try BehaviorEncoder(model: model, store: tight).encode(data, batch: 10_000)
        #expect(try tight.environment.mapSize > 64 << 10)
        #expect(try records(tight) == records(roomy))
    }

    @Test("f16 sums stay within half-precision error of f32")
    func halfPrecision() throws {
        let fixture = try EncoderFixture(syntheticDataset())
        defer { fixture.remove() }
        let (root, data, model) = (fixture.root, fixture.data, fixture.model)
        let s32 = try Store(path: root + "/f32"), s16 = try Store(path: root + "/f16")
        _ = try BehaviorEncoder(model: model, store: s32, precision: .f32).encode(data)
        _ = try BehaviorEncoder(model: model, store: s16, precision: .f16).encode(data)
        let a = try records(s32), b = try records(s16)
        for k in a.keys {
            let r32 = try a[k]!.withUnsafeBytes { try UserRecord(decoding: $0) }
            let r16 = try b[k]!.withUnsafeBytes { try UserRecord(decoding: $0) }
            #expect(b[k]!.count < a[k]!.count || r32.length == 0)
            for i in r32.sums.indices { #expect(abs(r32.sums[i] - r16.sums[i]) <= abs(r32.sums[i]) * 1e-3 + 1e-4) }
        }
    }

    @Test("append rejects a behavior older than the user's last timestamp and leaves the store unchanged")
    func appendRejectsOld() throws {
        let fixture = try EncoderFixture(syntheticDataset(length: 5...20))
        defer { fixture.remove() }
        let (root, data, model) = (fixture.root, fixture.data, fixture.model)
        let store = try Store(path: root + "/store")
        let enc = try BehaviorEncoder(model: model, store: store)
        _ = try enc.encode(data)
        let before = try records(store)
        let bad = Dataset(
            behaviors: [
                Behavior(user: "u0", item: "1", timestamp: 2e9), Behavior(user: "u1", item: "1", timestamp: 5),
            ], items: [:])
        #expect { try enc.append(bad) } throws: { "\($0)".contains("u1") && "\($0)".contains("older") }
        #expect(try records(store) == before)
    }

    @Test("a store made with another model is refused, naming both fingerprints")
    func fingerprintMismatch() throws {
        let root = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let data = syntheticDataset()
        let m1 = try makeBundle(data, folder: root + "/m1", seed: 1),
            m2 = try makeBundle(data, folder: root + "/m2", seed: 2)
        let store = try Store(path: root + "/store")
        _ = try BehaviorEncoder(model: m1, store: store).encode(data)
        #expect { try BehaviorEncoder(model: m2, store: store) } throws: {
            "\($0)".contains(m1.fingerprintHex) && "\($0)".contains(m2.fingerprintHex)
        }
    }
}

@Suite("Text atoms (BAHE): all-MiniLM-L6-v2 through the store's texts cache")
struct TextAtomTests {
    static let minilm = Result { try MiniLM(folder: minilmFolder) }

    @Test(
        "each distinct text is embedded once per store: a second encode computes 0; sums equal a brute force, x(text)"
    )
    func cache() throws {
        let textModel = try Self.minilm.get()
        let data = syntheticDataset()
        let root = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let items = Set(data.behaviors.map(\.item)).filter { $0 != "3" }.sorted()
        var shape = ModelBundle.Shape()
        shape.dItem = 8; shape.dCat = 4; shape.dText = 6; shape.textLayers = 2; shape.window = 5;
        shape.hidden = [16, 8]; shape.attentionDim = 8
        try ModelBundle.writeRandom(
            to: root + "/model", items: items, categories: Set(data.items.values.compactMap(\.category)).sorted(),
            shape: shape, seed: 5)
        let model = try ModelBundle(folder: root + "/model")
        #expect(model.config.dText == 6 && model.config.textLayers == 2)
        let refused = try Store(path: root + "/refused")
        #expect(throws: LifelongError.self) { try BehaviorEncoder(model: model, store: refused) }

        let distinctTexts = Set(data.items.values.compactMap(\.text)).count
        let store = try Store(path: root + "/store")
        let first = try BehaviorEncoder(model: model, store: store, textModel: textModel).encode(data)
        #expect(first.textsComputed == distinctTexts && first.textsFound == 0)
        let second = try BehaviorEncoder(model: model, store: store, textModel: textModel).encode(data)
        #expect(second.textsComputed == 0, "re-encoding the same items computes no text embedding")
        #expect(second.textsFound == distinctTexts)

        // x(text) recomputed directly by the text model, one text at a time.
        var x: [String: [Float]] = [:]
        for (id, info) in data.items { if let t = info.text { x[id] = try textModel.embed([t], layers: 2)[0].vector } }
        #expect(
            try checkedAgainstBruteForce(model, store, text: { x[$0] }).count == Set(data.behaviors.map(\.user)).count)

        // An atom gone from the cache, and a run that does not carry the text: the item is embedded without
        // text and its record no longer names the hash (so a scorer embeds it the same way).
        let used = Set(data.behaviors.map(\.item))
        let item = try #require(data.items.keys.sorted().first { data.items[$0]?.text != nil && used.contains($0) })
        let texts = try #require(store.texts)
        try store.environment.write { txn in
            var keys: [[UInt8]] = []
            try txn.scan(texts) { k, _ in
                keys.append(Array(k)); return .next
            }
            for k in keys { try txn.delete(texts, k) }
        }
        let last = data.behaviors.map(\.timestamp).max()!
        let third = try BehaviorEncoder(model: model, store: store, textModel: textModel)
            .append(Dataset(behaviors: [Behavior(user: "late", item: item, timestamp: last + 1)], items: [:]))
        #expect(third.textsComputed == 0 && third.textsFound == 0)
        let record = try #require(
            try store.environment.read { txn in try txn.get(store.items, item) { try ItemRecord(decoding: $0) } })
        #expect(record.textHash == nil)
    }
}
