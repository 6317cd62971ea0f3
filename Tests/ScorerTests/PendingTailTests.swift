import Foundation
import Testing
import Tensors
import BehaviorLog
import TestSupport
import LMDB
import Offline
import Model
import Scorer
import Store
import CAllocationCounter

@Suite("The pending tail: event appends write the sequence, and fold into the record every Store.foldEvery")
struct PendingTailTests {
    /// The record's L and the tail's length for `user`.
    func coverage(_ store: Store, _ user: String) throws -> (covered: Int, pending: Int)? {
        try store.read { txn in
            guard let r = try store.userRecord(txn, user: user) else { return nil }
            return (Int(r.length), try store.sequenceTailLength(txn, user: user, from: Int(r.length)))
        }
    }

    @Test(
        "tails of 1…31 behaviors score bit for bit as the whole log encoded, every mode; L moves in steps of 32",
        arguments: [false, true])
    func tailScoresAsEncoded(feedback: Bool) throws {
        let f = try ScoringFixture(feedback: feedback)
        let scorer = try Scorer(model: f.model, store: f.store, writable: true)
        var log = f.data.behaviors
        var g = Gaussian(seed: 5)
        let stored = ["u1": 1, "u5": 40, "u8": 600, "fresh": 0]
        let candidates = (0..<60).map { "i\($0)" } + ["not-an-item"]
        for step in 1...45 {
            for user in stored.keys.sorted() {
                let label: Bool? = feedback ? [nil, false, true][Int(g.bits() % 3)] : nil
                let b = Behavior(user: user, item: "i\(g.bits() % 60)", timestamp: 10_000 + Double(step), label: label)
                try scorer.append(user: b.user, item: b.item, timestamp: b.timestamp, label: b.label, category: nil)
                log.append(b)
            }
            guard [1, 31, 32, 33, 45].contains(step) else { continue }
            let folder = temporaryFolder("tail-reference")
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let encoded = try Store(path: folder)
            _ = try BehaviorEncoder(model: f.model, store: encoded).encode(Dataset(behaviors: log, items: f.data.items))
            let reference = try Scorer(model: f.model, store: encoded)
            for (user, length) in stored {
                let (covered, pending) = try #require(try coverage(f.store, user))
                #expect(covered == length + Store.folded(pending: step) && pending == step % Store.foldEvery, "\(user)")
                #expect(try coverage(encoded, user)! == (length + step, 0))
                for mode in Scorer.Mode.allCases {
                    let got = try scorer.score(user: user, candidates: candidates, mode: mode)
                    let want = try reference.score(user: user, candidates: candidates, mode: mode)
                    #expect(got == want, "step \(step), \(user), \(mode)")
                }
            }
            #expect(try StoreVerifier(store: f.store, model: f.model).verify().faults.isEmpty, "step \(step)")
        }
    }

    @Test("a tail of Store.foldEvery or more is damage: verify names it and the scorer refuses the user")
    func overlongTail() throws {
        let f = try ScoringFixture()
        let scorer = try Scorer(model: f.model, store: f.store, writable: true)
        for k in 0..<(Store.foldEvery - 1) { try scorer.append(user: "u5", item: "i\(k)", timestamp: 500 + Double(k)) }
        #expect(try coverage(f.store, "u5")! == (40, Store.foldEvery - 1))
        // One more entry written behind the writer's back: the tail reaches foldEvery without a fold.
        try f.store.environment.write { txn in
            let last = UInt32((40 + Store.foldEvery - 2) / Store.chunkCapacity)  // the chunk of the last behavior
            let key = Store.chunkKey(user: "u5", chunk: last)
            var chunk = try #require(try txn.get(f.store.sequences, key))
            chunk += chunk.suffix(Store.sequenceEntrySize)
            try txn.put(f.store.sequences, key, chunk)
        }
        let faults = try StoreVerifier(store: f.store, model: f.model).verify().faults
        #expect(faults.contains { $0.key == "users/u5" && $0.message.contains("pending tail must be shorter") })
        for mode in Scorer.Mode.allCases {
            #expect { try scorer.score(user: "u5", candidates: ["i1"], mode: mode) } throws: {
                "\($0)".contains("u5") && "\($0)".contains("fewer than \(Store.foldEvery) more expected")
            }
        }
        #expect(try scorer.score(user: "u6", candidates: ["i1"]).count == 1, "other users are not affected")
    }

    @Test("an append to a user whose sequence is shorter than its record is refused as damage, naming the user")
    func sequenceShorterThanRecord() throws {
        let f = try ScoringFixture()
        let scorer = try Scorer(model: f.model, store: f.store, writable: true)
        try f.store.environment.write { txn in
            for chunk in 0..<UInt32(40 / Store.chunkCapacity + 1) {
                _ = try txn.delete(f.store.sequences, Store.chunkKey(user: "u5", chunk: chunk))
            }
        }
        #expect { try scorer.append(user: "u5", item: "i1", timestamp: 9_000) } throws: {
            "\($0)".contains("user 'u5'") && "\($0)".contains("the sequence has fewer")
        }
        try scorer.append(user: "u6", item: "i1", timestamp: 9_000)  // other users go on
    }

    @Test("a warm bse request of a user with a pending tail performs no heap allocation")
    func tailAllocatesNothing() throws {
        let f = try ScoringFixture(feedback: true)
        let scorer = try Scorer(model: f.model, store: f.store, writable: true)
        for k in 0..<5 { try scorer.append(user: "u8", item: "i\(k)", timestamp: 5_000 + Double(k), label: true) }
        #expect(try coverage(f.store, "u8")!.pending == 5)
        let candidates = (0..<200).map { "i\($0 % 60)" }
        var out = [Float](repeating: 0, count: candidates.count)
        try out.withUnsafeMutableBufferPointer {
            try scorer.score(user: "u8", candidates: candidates, mode: .bse, into: $0)
        }
        lifelong_allocations_start()
        for _ in 0..<20 {
            try out.withUnsafeMutableBufferPointer {
                try scorer.score(user: "u8", candidates: candidates, mode: .bse, into: $0)
            }
        }
        #expect(lifelong_allocations_stop() == 0)
    }
}
