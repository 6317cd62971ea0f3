import DequeModule
import Foundation
import Synchronization

/// A fixed set of scoring threads behind a bounded queue. Requests run here, never on the event loops, so a
/// slow request cannot stall a connection's I/O; a request that finds the queue full is refused at once
/// (`resourceExhausted`) so that the accepted ones keep their latency, and one whose deadline passed while it
/// waited is dropped without running (`deadlineExceeded`).
public final class ScoringPool: Sendable {
    private struct Job {
        let deadline: ContinuousClock.Instant?
        let run: @Sendable () -> Void
        let expire: @Sendable () -> Void
    }
    private struct Queue {
        var jobs = Deque<Job>()
        var running = 0
        var closed = false
    }
    public let threads: Int
    public let capacity: Int
    private let queue = Mutex(Queue())
    private let ready = DispatchSemaphore(value: 0)
    private let stopped = DispatchGroup()

    public init(threads: Int, capacity: Int) {
        precondition(threads >= 1 && capacity >= 0)
        self.threads = threads
        self.capacity = capacity
        for k in 0..<threads {
            stopped.enter()
            let thread = Thread { [self] in
                work()
                stopped.leave()
            }
            thread.name = "lifelong-score-\(k)"
            thread.start()
        }
    }

    /// Requests waiting and requests running.
    public var depth: (queued: Int, running: Int) { queue.withLock { ($0.jobs.count, $0.running) } }

    /// `body`'s result, computed on a scoring thread.
    /// - Throws: `resourceExhausted` when `capacity` requests wait already; `deadlineExceeded` when `deadline`
    ///   passes before a thread takes it; `unavailable` after `close`.
    public func run<T: Sendable>(
        deadline: ContinuousClock.Instant? = nil, _ body: @escaping @Sendable () throws -> T
    ) async throws -> T {
        try await withCheckedThrowingContinuation { (reply: CheckedContinuation<T, any Error>) in
            let job = Job(
                deadline: deadline,
                run: { reply.resume(with: Result { try body() }) },
                expire: {
                    reply.resume(
                        throwing: ServiceError(.deadlineExceeded, "the request's deadline passed while it was queued"))
                })
            let refusal = queue.withLock { q -> ServiceError? in
                if q.closed { return ServiceError(.unavailable, "the service is shutting down") }
                // A free thread takes the job at once; otherwise it waits in the queue, if there is room.
                guard q.jobs.count < capacity || q.running + q.jobs.count < threads else {
                    return ServiceError(
                        .resourceExhausted,
                        "all \(threads) scoring threads are busy and \(capacity) requests wait: retry later")
                }
                q.jobs.append(job)
                return nil
            }
            if let refusal { reply.resume(throwing: refusal) } else { ready.signal() }
        }
    }

    /// Lets the queued and running requests finish, then ends the threads.
    public func close() {
        queue.withLock { $0.closed = true }
        for _ in 0..<threads { ready.signal() }
        stopped.wait()
    }

    private func work() {
        while true {
            ready.wait()
            let next = queue.withLock { q -> Job?? in
                guard let job = q.jobs.popFirst() else { return q.closed ? .some(nil) : nil }
                q.running += 1
                return job
            }
            guard let next else { continue }  // a wake left by a job another thread took
            guard let job = next else { return }
            if let deadline = job.deadline, ContinuousClock.now >= deadline { job.expire() } else { job.run() }
            queue.withLock { $0.running -= 1 }
        }
    }
}
