import Errors
import Foundation
import Synchronization

/// The one group-commit writer, used by the service's appends and by `lifelong ingest`: one thread takes every
/// batch waiting (up to `maxBatch` events, a larger batch alone; batches of one source only) and writes them
/// in one `StoreScorers.append(events:source:)`, one write transaction per shard; each batch's completion runs
/// after that commit, so its caller's next score sees the events. While one commit runs the next group gathers,
/// so the batching follows the load with no timer: an idle writer commits one batch at once, a busy one
/// amortises the commit over many. `close()` commits the batches waiting and ends the thread.
public final class GroupCommit: Sendable {
    public typealias Completion = @Sendable (Result<[Scorer.EventStatus], any Error>) -> Void

    private struct Batch {
        var events: [Scorer.Event]
        var source: Scorer.SourcePosition?
        var done: Completion
    }
    private struct Waiting {
        var batches: [Batch] = []
        var closed = false
    }
    private let scorers: StoreScorers
    private let maxBatch: Int
    private let waiting = Mutex(Waiting())
    private let wake = DispatchSemaphore(value: 0)

    public init(_ scorers: StoreScorers, maxBatch: Int) {
        self.scorers = scorers
        self.maxBatch = max(1, maxBatch)
        let thread = Thread { [self] in run() }
        thread.name = "lifelong-commit"
        thread.start()
    }

    /// Queues `events` (with `source`'s offset, committed with them); `done` gets their statuses, in order, once
    /// they are committed, or the store's error (none of the group's events is then written). False, and `done`
    /// never called, once the writer is closed.
    @discardableResult
    public func submit(
        _ events: [Scorer.Event], source: Scorer.SourcePosition? = nil, done: @escaping Completion
    ) -> Bool {
        let accepted = waiting.withLock { w in
            guard !w.closed else { return false }
            w.batches.append(Batch(events: events, source: source, done: done))
            return true
        }
        if accepted { wake.signal() }
        return accepted
    }

    /// A batch handed to the writer: `wait()` blocks until it is committed (for a caller on its own thread).
    public final class Ticket: Sendable {
        private let outcome = Mutex<Result<[Scorer.EventStatus], any Error>?>(nil)
        private let done = DispatchSemaphore(value: 0)

        fileprivate func finish(_ result: Result<[Scorer.EventStatus], any Error>) {
            outcome.withLock { $0 = result }
            done.signal()
        }

        /// The batch's statuses, in order, once committed; the store's error otherwise.
        public func wait() throws -> [Scorer.EventStatus] {
            done.wait()
            defer { done.signal() }  // a second wait returns at once
            return try outcome.withLock { $0! }.get()
        }
    }

    /// `submit` for a caller that waits on its own thread.
    public func submit(_ events: [Scorer.Event], source: Scorer.SourcePosition? = nil) -> Ticket {
        let ticket = Ticket()
        if !submit(events, source: source, done: { ticket.finish($0) }) {
            ticket.finish(.failure(LifelongError(.internal, message: "the writer is closed")))
        }
        return ticket
    }

    /// Stops taking batches once the ones waiting are committed; the thread ends.
    public func close() {
        waiting.withLock { $0.closed = true }
        wake.signal()
    }

    /// One wake per batch and one for `close`: a group of k batches leaves k − 1 wakes that find nothing, so
    /// the wake that ends the thread always comes after the last batch is taken.
    private func run() {
        while true {
            wake.wait()
            let (group, finished) = waiting.withLock { w -> ([Batch], Bool) in
                var count = 0, taken = 0
                while taken < w.batches.count,
                    taken == 0
                        || (count + w.batches[taken].events.count <= maxBatch
                            && w.batches[taken].source?.name == w.batches[0].source?.name)
                {
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

    /// One append for the group, with the offset of its last batch that has one.
    private func commit(_ group: [Batch]) {
        let events = group.count == 1 ? group[0].events : group.flatMap(\.events)
        let source = group.last { $0.source != nil }?.source
        do {
            let status = try scorers.append(events: events, source: source)
            var start = 0
            for batch in group {
                batch.done(.success(Array(status[start..<start + batch.events.count])))
                start += batch.events.count
            }
        } catch {
            for batch in group { batch.done(.failure(error)) }
        }
    }
}
