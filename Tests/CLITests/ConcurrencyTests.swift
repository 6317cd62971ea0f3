import Dispatch
import Offline
import Foundation
import LMDB
import Model
import Scorer
import Store
import Synchronization
import Testing
import BehaviorLog
import TestSupport

@Suite("Concurrent readers while a writer appends")
struct ConcurrencyTests {
    @Test("scorer threads, a checksum-reading thread and separate `lifelong verify` processes never see a torn record")
    func readersAndWriter() throws {
        let root = temporaryFolder("concurrency")
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(
            try CLI.run([
                "synth", "--out", root + "/syn", "--users", "40", "--items", "400", "--length", "20,300", "--seed", "6",
            ]).status == 0)
        #expect(
            try CLI.run([
                "init-model", "--data", root + "/syn", "--out", root + "/model", "--d-item", "24", "--d-cat", "8",
            ]).status == 0)
        #expect(
            try CLI.run([
                "encode", "--model", root + "/model", "--data", root + "/syn", "--store", root + "/store", "--quiet",
            ]).status == 0)
        let model = try ModelBundle(folder: root + "/model")
        let scorer = try Scorer(model: model, store: try Store(path: root + "/store"), writable: true)
        let data = try Dataset.load(root + "/syn")
        let users = Array(Set(data.behaviors.map(\.user))).sorted().prefix(8)
        let items = Array(Set(data.behaviors.map(\.item))).sorted()
        let lastTime = data.behaviors.map(\.timestamp).max()!

        let stop = Atomic<Bool>(false)
        let scores = Atomic<Int>(0), decoded = Atomic<Int>(0), verifies = Atomic<Int>(0)
        let problems = Mutex<[String]>([])
        let done = DispatchGroup()
        func spawn(_ body: @escaping @Sendable () -> Void) {
            done.enter()
            Thread.detachNewThread {
                defer { done.leave() }; body()
            }
        }
        let candidates = Array(items.prefix(100))
        for t in 0..<3 {
            spawn {
                var k = t
                while !stop.load(ordering: .acquiring) {
                    do {
                        let p = try scorer.score(
                            user: users[users.startIndex + k % users.count], candidates: candidates)
                        if !p.allSatisfy({ $0.isFinite && $0 > 0 && $0 < 1 }) {
                            problems.withLock { $0.append("score out of (0, 1)") }
                        }
                        scores.add(1, ordering: .relaxed)
                    } catch { problems.withLock { $0.append("score: \(error)") } }
                    k += 1
                }
            }
        }
        spawn {  // every user record, decoded with its checksum, over and over
            while !stop.load(ordering: .acquiring) {
                do {
                    try scorer.store.environment.read { txn in
                        try txn.scan(scorer.store.users) { _, v in
                            _ = try UserRecord(decoding: v); return .next
                        }
                    }
                    decoded.add(1, ordering: .relaxed)
                } catch { problems.withLock { $0.append("read: \(error)") } }
            }
        }
        spawn {  // another process: `lifelong verify` (every record, checksums, sequences, windows)
            while !stop.load(ordering: .acquiring) {
                do {
                    let r = try CLI.run(["verify", "--store", root + "/store", "--quiet"])
                    if r.status != 0 { problems.withLock { $0.append("verify: \(r.stdout) \(r.stderr)") } }
                    verifies.add(1, ordering: .relaxed)
                } catch { problems.withLock { $0.append("verify: \(error)") } }
            }
        }

        // The writer: 300 appends, one transaction each, spread over the users being read.
        var appends = 0
        while appends < 300 || verifies.load(ordering: .relaxed) < 3 {
            let user = users[users.startIndex + appends % users.count]
            try scorer.append(
                user: user, item: items[appends % items.count], timestamp: lastTime + Double(appends), category: nil)
            appends += 1
            if appends > 20_000 { break }
        }
        stop.store(true, ordering: .releasing)
        done.wait()
        #expect(problems.withLock { $0 }.isEmpty, "\(problems.withLock { $0.prefix(3) })")
        #expect(
            scores.load(ordering: .relaxed) > 10 && decoded.load(ordering: .relaxed) > 3
                && verifies.load(ordering: .relaxed) >= 3)
        let after = try StoreVerifier(store: scorer.store, model: model).verify()
        #expect(after.faults.isEmpty, "\(after.faults.prefix(3))")
    }
}
