import Foundation
import Scorer
import Synchronization

/// The appends of concurrent requests, committed together: one thread takes every batch waiting (up to
/// `maxBatch` events, a larger batch alone) and writes them in one `StoreScorers.append(events:source:)`, one
/// write transaction per shard; each caller resumes with its events' statuses after that commit, so its next
/// score sees them. While one commit runs the next group gathers, so the batching follows the load with no
/// timer: an idle service commits one request at once, a busy one amortises the commit over many.
final class GroupCommit: Sendable {
    typealias Reply = CheckedContinuation<[Scorer.EventStatus], any Error>
    private struct Waiting {
        var batches: [(events: [Scorer.Event], reply: Reply)] = []
        var closed = false
    }
    private let scorers: StoreScorers
    private let maxBatch: Int
    private let waiting = Mutex(Waiting())
    private let wake = DispatchSemaphore(value: 0)

    init(_ scorers: StoreScorers, maxBatch: Int) {
        self.scorers = scorers
        self.maxBatch = maxBatch
        let thread = Thread { [self] in run() }
        thread.name = "lifelong-commit"
        thread.start()
    }

    /// The statuses of `events`, in order, once they are committed. A store failure throws for every caller
    /// of that group, and none of the group's events is written.
    func append(_ events: [Scorer.Event]) async throws -> [Scorer.EventStatus] {
        guard !events.isEmpty else { return [] }
        return try await withCheckedThrowingContinuation { reply in
            let accepted = waiting.withLock { w in
                guard !w.closed else { return false }
                w.batches.append((events, reply))
                return true
            }
            if accepted {
                wake.signal()
            } else {
                reply.resume(throwing: ServiceError(.unavailable, "the service is shutting down"))
            }
        }
    }

    /// Stops taking appends once the ones waiting are committed; the thread ends.
    func close() {
        waiting.withLock { $0.closed = true }
        wake.signal()
    }

    /// One wake per batch and one for `close`: a group of k batches leaves k − 1 wakes that find nothing, so
    /// the wake that ends the thread always comes after the last batch is taken.
    private func run() {
        while true {
            wake.wait()
            let (group, finished) = waiting.withLock { w -> ([(events: [Scorer.Event], reply: Reply)], Bool) in
                var count = 0, taken = 0
                while taken < w.batches.count, taken == 0 || count + w.batches[taken].events.count <= maxBatch {
                    count += w.batches[taken].events.count
                    taken += 1
                }
                let group = Array(w.batches.prefix(taken))
                w.batches.removeFirst(taken)
                return (group, w.closed && w.batches.isEmpty)
            }
            if !group.isEmpty {
                commit(group)
            } else if finished {
                return
            }
        }
    }

    private func commit(_ group: [(events: [Scorer.Event], reply: Reply)]) {
        let events = group.count == 1 ? group[0].events : group.flatMap(\.events)
        do {
            let status = try scorers.append(events: events)
            var start = 0
            for (batch, reply) in group {
                reply.resume(returning: Array(status[start..<start + batch.count]))
                start += batch.count
            }
        } catch {
            for (_, reply) in group { reply.resume(throwing: ServiceError(from: error)) }
        }
    }
}
