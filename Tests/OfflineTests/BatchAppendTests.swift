import BehaviorLog
import Errors
import Foundation
@testable import LMDB
@testable import Model
@testable import Offline
import Scorer
@testable import Store
import Tensors
import Testing

private func databases(_ store: Store) throws -> [String: [[UInt8]: [UInt8]]] { try store.contents() }

@Suite("Batch append: the store one append per event gives")
struct BatchAppendTests {
    /// A stream over known and new users and items, interleaved at random, with ties in time, events older
    /// than their user's last, an empty user id and a non-finite timestamp.
    static func stream(seed: UInt64, after start: Double) -> [Scorer.Event] {
        var g = Gaussian(seed: seed)
        var clock = start
        var events: [Scorer.Event] = []
        for k in 0..<400 {
            let i = Int(g.bits() % 45)  // 40 … 44 are new items
            let category = i % 7 == 0 && i < 40 ? nil : "c\(i % 5)"  // the catalog's, for items it has
            let r = g.bits() % 20
            if r < 12 { clock += Double(g.bits() % 3) }  // 0: a tie
            let user = k == 150 ? "" : "u\(g.bits() % 15)"  // u12 … u14 are new users
            let timestamp = r == 19 ? clock - 500 : (k == 250 ? .infinity : clock)
            let label: Bool? = [nil, false, true][Int(g.bits() % 3)]
            events.append(.init(user: user, item: String(i), timestamp: timestamp, label: label, category: category))
        }
        return events
    }

    @Test(
        "any interleaving, ties and refusals: byte-identical databases and the same refusals as one by one",
        arguments: [(UInt64(1), false), (2, true), (3, false)])
    func batchEqualsOneByOne(seed: UInt64, feedback: Bool) throws {
        let data = syntheticDataset(users: 12, items: 40, length: 0...40, seed: 11)
        let fixture = try EncoderFixture(data, feedback: feedback)
        defer { fixture.remove() }
        let ordered = data.behaviors.sorted(by: Behavior.precedes)
        let history = Dataset(behaviors: Array(ordered.prefix(ordered.count / 2)), items: data.items)
        let stores = try ["one", "batch"].map { name in
            let store = try Store(path: fixture.root + "/" + name, durability: .noSync)
            _ = try BehaviorEncoder(model: fixture.model, store: store).encode(history)
            return store
        }
        let events = Self.stream(seed: seed, after: history.behaviors.map(\.timestamp).max() ?? 0)

        let one = try Scorer(model: fixture.model, store: stores[0], writable: true)
        var oneByOne: [Bool] = []
        for e in events {
            do {
                try one.append(user: e.user, item: e.item, timestamp: e.timestamp, label: e.label, category: e.category)
                oneByOne.append(true)
            } catch {
                oneByOne.append(false)
            }
        }
        let batch = try Scorer(model: fixture.model, store: stores[1], writable: true)
        var g = Gaussian(seed: seed + 100)
        var statuses: [Scorer.EventStatus] = []
        while statuses.count < events.count {
            let n = min(1 + Int(g.bits() % 60), events.count - statuses.count)
            statuses += try batch.append(events: Array(events[statuses.count..<(statuses.count + n)]))
        }

        #expect(statuses.map { $0 == .appended || $0 == .alreadyApplied } == oneByOne)
        #expect(oneByOne.contains(false) && oneByOne.filter { $0 }.count > 300)
        for (k, s) in statuses.enumerated() {
            if case .refused(let kind, let reason) = s {
                #expect(kind == .invalidArgument && !reason.isEmpty, "event \(k)")
            }
        }
        let a = try databases(stores[0]), b = try databases(stores[1])  // byte for byte
        for name in a.keys.sorted() {
            let differing = Set(a[name]!.keys).union(b[name]!.keys).filter { a[name]![$0] != b[name]![$0] }
            let example = differing.first.map { String(decoding: $0, as: UTF8.self) } ?? ""
            #expect(differing.isEmpty, "database \(name): \(differing.count) keys differ, e.g. \(example)")
        }
        for user in ["u0", "u7", "u13"] {
            let candidates = ["1", "2", "44"]
            let scores = try one.score(user: user, candidates: candidates)
            #expect(try scores == batch.score(user: user, candidates: candidates))
        }
    }

    @Test("a read-only scorer refuses a batch; an empty batch writes nothing")
    func refusals() throws {
        let data = syntheticDataset(users: 3, items: 10, length: 1...5, seed: 5)
        let fixture = try EncoderFixture(data)
        defer { fixture.remove() }
        let store = try Store(path: fixture.root + "/store", durability: .noSync)
        _ = try BehaviorEncoder(model: fixture.model, store: store).encode(data)
        let before = try databases(store)
        let writable = try Scorer(model: fixture.model, store: store, writable: true)
        #expect(try writable.append(events: []).isEmpty)
        #expect(try databases(store) == before)
        let readOnly = try Scorer(model: fixture.model, store: store, writable: false)
        #expect(throws: LifelongError.self) {
            try readOnly.append(events: [.init(user: "u0", item: "1", timestamp: 2e6)])
        }
    }
}
