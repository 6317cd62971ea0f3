import Foundation
@testable import LMDB
import Synchronization
import Testing
import BehaviorLog
@testable import Offline
@testable import Model
@testable import Store

/// An encoded store of the synthetic dataset, for corrupting.
struct VerifyFixture {
    let fixture: EncoderFixture
    let store: Store
    let users: [String]

    init(split: Bool = false, feedback: Bool = false) throws {
        var data = syntheticDataset()
        if feedback { for j in stride(from: 0, to: data.behaviors.count, by: 6) { data.behaviors[j].label = nil } }
        fixture = try EncoderFixture(data, feedback: feedback)
        store = try Store(path: fixture.root + "/store", durability: .noSync)
        let encoder = try BehaviorEncoder(model: fixture.model, store: store)
        if split {
            // encode(first half by time) + append(second half): sums added in another order than encode's.
            let ordered = fixture.data.behaviors.sorted(by: Behavior.precedes)
            let cut = ordered[ordered.count / 2].timestamp
            _ = try encoder.encode(Dataset(behaviors: ordered.filter { $0.timestamp < cut }, items: fixture.data.items))
            _ = try encoder.append(
                Dataset(behaviors: ordered.filter { $0.timestamp >= cut }, items: fixture.data.items))
        } else {
            _ = try encoder.encode(fixture.data)
        }
        users = try records(store).filter { $0.value.count > 0 }.keys.sorted()
    }

    func faults(model: Bool = true) throws -> [StoreVerifier.Fault] {
        try StoreVerifier(store: store, model: model ? fixture.model : nil).verify().faults
    }

    /// Rewrites one user's record through `change`, with a correct checksum.
    func rewrite(_ user: String, _ change: (inout UserRecord) -> Void) throws {
        try store.environment.write { txn in
            var r = try #require(try txn.get(store.users, user) { try UserRecord(decoding: $0) })
            change(&r)
            try txn.put(store.users, user, r.encoded(precision: .f32))
        }
    }

    /// The longest user (every check has something to look at).
    func longest() throws -> String {
        let all = try records(store)
        return users.max { all[$0]!.count < all[$1]!.count }!
    }
}

@Suite("lifelong verify")
struct VerifyTests {
    @Test(
        "a fresh store, and one built by encode + append, verify clean with every sum recomputed (v1 and v2 bundles)"
    )
    func clean() throws {
        for (split, feedback) in [(false, false), (true, false), (false, true), (true, true)] {
            let f = try VerifyFixture(split: split, feedback: feedback)
            defer { f.fixture.remove() }
            let summary = try StoreVerifier(store: f.store, model: f.fixture.model).verify()
            #expect(summary.faults.isEmpty, "\(summary.faults)")
            #expect(summary.sumsRecomputed == summary.users && summary.users == f.users.count)
            #expect(summary.behaviors == f.fixture.data.behaviors.count)
        }
    }

    @Test("every kind of damage is a fault naming the database and key")
    func damage() throws {
        let f = try VerifyFixture()
        defer { f.fixture.remove() }
        let user = try f.longest()
        func expectFault(
            _ key: String, _ text: String, model: Bool = true, sourceLocation: SourceLocation = #_sourceLocation
        ) throws {
            let faults = try f.faults(model: model)
            #expect(
                faults.contains { $0.key == key && $0.message.contains(text) }, "\(faults)",
                sourceLocation: sourceLocation)
        }

        // A flipped byte: the checksum.
        let original = try #require(try records(f.store)[user])
        var flipped = original
        flipped[UserRecord.headerSize + 4 * 128 + 3] ^= 0x10
        try f.store.environment.write { try $0.put(f.store.users, user, flipped) }
        try expectFault("users/\(user)", "checksum")
        try f.store.environment.write { try $0.put(f.store.users, user, original) }
        #expect(try f.faults().isEmpty)

        // Well-formed records that lie: sums (only the model can tell), counts, window, length.
        try f.rewrite(user) { $0.sums[5] += 0.5 }
        try expectFault("users/\(user)", "bucket sums of signature 0")
        #expect(try f.faults(model: false).isEmpty)
        try f.rewrite(user) {
            $0.sums[5] -= 0.5; $0.counts[0] += 1; $0.counts[1] -= 1
        }
        try expectFault("users/\(user)", "bucket counts differ")
        try f.rewrite(user) { $0.counts[0] += 1 }
        try expectFault("users/\(user)", "signature 0: counts sum to", model: false)
        try f.store.environment.write { try $0.put(f.store.users, user, original) }
        try f.rewrite(user) { $0.window.swapAt(0, 1) }
        try expectFault("users/\(user)", "the window is not the last")
        try f.rewrite(user) {
            $0.window.swapAt(0, 1); $0.lastTimestamp += 1
        }
        try expectFault("users/\(user)", "last timestamp")
        try f.rewrite(user) {
            $0.window.swapAt(0, 1); $0.lastTimestamp -= 1; $0.window[0].feedback = ($0.window[0].feedback + 1) % 3
        }
        try expectFault("users/\(user)", "the window is not the last")
        try f.store.environment.write { try $0.put(f.store.users, user, original) }
        #expect(try f.faults().isEmpty)

        // The sequence: a lost chunk, an orphan chunk.
        let chunk = Store.chunkKey(user: user, chunk: 0)
        let saved = try #require(try f.store.environment.read { try $0.get(f.store.sequences, chunk) })
        try f.store.environment.write { try $0.delete(f.store.sequences, chunk) }
        try expectFault("users/\(user)", "the sequence holds", model: false)
        try f.store.environment.write { try $0.put(f.store.sequences, chunk, saved) }
        var badFeedback = saved
        badFeedback[12] = 7  // entry 0's feedback byte
        try f.store.environment.write { try $0.put(f.store.sequences, chunk, badFeedback) }
        try expectFault("users/\(user)", "the sequence holds feedback 7", model: false)
        try f.store.environment.write { try $0.put(f.store.sequences, chunk, saved) }
        try f.store.environment.write { try $0.put(f.store.sequences, Store.chunkKey(user: "ghost", chunk: 0), saved) }
        try expectFault("sequences/ghost", "without a user record", model: false)
        try f.store.environment.write { try $0.delete(f.store.sequences, Store.chunkKey(user: "ghost", chunk: 0)) }

        // Items: a corrupt record, a dangling id.
        let item = try #require(
            try f.store.environment.read { txn in
                var first: String?
                try txn.scan(f.store.items) { k, _ in
                    first = String(decoding: k, as: UTF8.self); return .stop
                }
                return first
            })
        let itemBytes = try #require(try f.store.environment.read { try $0.get(f.store.items, item) })
        var bad = itemBytes
        bad[bad.count - 1] ^= 1
        try f.store.environment.write { try $0.put(f.store.items, item, bad) }
        try expectFault("items/\(item)", "does not decode", model: false)
        try f.store.environment.write { try $0.put(f.store.items, item, itemBytes) }
        try f.store.environment.write { try $0.put(f.store.itemIds, UInt32(99_999), "nobody") }
        try expectFault("item_ids/99999", "no item record", model: false)
        try f.store.environment.write { try $0.delete(f.store.itemIds, UInt32(99_999)) }

        // Text atoms of two text models at the same K.
        let texts = try #require(f.store.texts)
        for (i, model) in [[UInt8](repeating: 1, count: 32), [UInt8](repeating: 2, count: 32)].enumerated() {
            let r = TextVectorRecord(layers: 2, modelFingerprint: model, vector: [Float](repeating: 0.5, count: 384))
            try f.store.environment.write {
                try $0.put(texts, Store.textKey(hash: [UInt8](repeating: UInt8(i), count: 32), layers: 2), r.encoded())
            }
        }
        try expectFault("texts/" + String(repeating: "01", count: 32) + "02", "other atoms at K = 2", model: false)

        // Another model.
        let other = try makeBundle(f.fixture.data, folder: f.fixture.root + "/other", seed: 99)
        let faults = try StoreVerifier(store: f.store, model: other).verify().faults
        #expect(faults.contains { $0.key == "meta/fingerprint" && $0.message.contains(other.fingerprintHex) })
    }
}

@Suite("Resource faults during encode")
struct EncodeFaultTests {
    @Test(
        "disk full at the 4th commit: a clear error, only whole batches of whole users stored, alive; a re-run ends"
    )
    func diskFull() throws {
        let fixture = try EncoderFixture(syntheticDataset(users: 30))
        defer { fixture.remove() }
        let store = try Store(path: fixture.root + "/store", durability: .noSync)
        let encoder = try BehaviorEncoder(model: fixture.model, store: store)
        let commits = Atomic<Int>(0)
        store.environment.faultInjector = { op in
            op == "mdb_txn_commit" && commits.add(1, ordering: .relaxed).newValue == 4
                ? LMDBError.Code.noSpace.rawValue : nil
        }
        #expect { try encoder.encode(fixture.data, batch: 5) } throws: { "\($0)".contains("disk is full") }
        store.environment.faultInjector = nil
        var lengths: [String: Int] = [:]
        for b in fixture.data.behaviors { lengths[b.user, default: 0] += 1 }
        let stored = try records(store).mapValues { try $0.withUnsafeBytes { try UserRecord(decoding: $0) } }
        // Commit 1 (the items) and commits 2–3 (users 1–5, 6–10) landed; the 4th (users 11–15) did not.
        #expect(stored.count == 10, "\(stored.keys.sorted())")
        for (user, r) in stored { #expect(Int(r.length) == lengths[user]) }
        #expect(try StoreVerifier(store: store, model: fixture.model).verify().faults.isEmpty)
        _ = try encoder.encode(fixture.data, batch: 5)
        let summary = try StoreVerifier(store: store, model: fixture.model).verify()
        #expect(summary.faults.isEmpty && summary.users == lengths.count)
    }
}

extension TextVectorRecord {
    func encoded() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: encodedSize)
        out.withUnsafeMutableBytes { encode(into: $0) }
        return out
    }
}
