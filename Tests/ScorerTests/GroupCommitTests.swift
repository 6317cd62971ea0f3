import Errors
import Foundation
import Testing
import TestSupport
import Offline
import Scorer
import Store
import Synchronization

@Suite("GroupCommit: the one group-commit writer of the service and ingest")
struct GroupCommitTests {
    @Test("batches from many threads and two sources: every status, each source's last offset, the same store")
    func sourcesAndThreads() throws {
        let f = try ScoringFixture(feedback: true)
        let scorers = StoreScorers(try Scorer(model: f.model, store: f.store, writable: true))
        let commits = GroupCommit(scorers, maxBatch: 7)
        let event: @Sendable (String, Double) -> Scorer.Event = { user, t in
            Scorer.Event(user: user, item: "i\(Int(t) % 60)", timestamp: t, label: Int(t) % 2 == 0, category: nil)
        }
        // Two sources on their own threads (offsets rising), and anonymous batches between them.
        let statuses = Mutex<[[Scorer.EventStatus]]>([])
        DispatchQueue.concurrentPerform(iterations: 3) { lane in
            for k in 1...20 {
                let user = "lane\(lane)", t = 20_000 + Double(k)
                let source = lane == 2 ? nil : Scorer.SourcePosition(name: "s\(lane)", offset: Int64(k * 10))
                let ticket = commits.submit([event(user, t), event(user, t + 0.5)], source: source)
                statuses.withLock { $0.append((try? ticket.wait()) ?? []) }
            }
        }
        commits.close()
        let all = statuses.withLock { $0 }
        #expect(all.count == 60 && all.allSatisfy { $0 == [.appended, .appended] })
        #expect(try f.store.sourceOffset("s0") == 200 && f.store.sourceOffset("s1") == 200)
        for lane in 0..<3 {
            #expect(try f.store.read { try f.store.userRecord($0, user: "lane\(lane)") } != nil)
        }
        // A closed writer refuses, and says so.
        #expect(throws: LifelongError.self) { try commits.submit([event("late", 30_000)]).wait() }
        #expect(!commits.submit([event("late", 30_000)]) { _ in Issue.record("completion of a refused batch") })
    }
}
