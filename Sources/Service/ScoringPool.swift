import DequeModule
import Dispatch
import Foundation
import Synchronization

/// A fixed set of scoring threads behind a queue bounded by count and by wait. Requests run here, never on the
/// event loops, so a slow request cannot stall a connection's I/O.
///
/// - **Admission.** A free thread takes a request at once. Otherwise it waits in the queue unless the queue is
///   "full", and is refused at once (`resourceExhausted`) if it is, so that the accepted ones keep their
///   latency. Full is either bound: `capacity` requests waiting, or — beyond `2 × threads` waiting, which
///   always fit — an expected wait over `maxQueueDelay` (by default 3 requests' time, at least 10 ms): the
///   requests ahead, less the threads free, times the recent mean time of a
///   request (an exponential average over the last few), over the threads. The second holds an accepted
///   request's wait to the delay whatever a request costs (64 waiting requests of 4.6 ms on 2 threads are 150
///   ms of queue, 64 of 0.1 ms are 3 ms). A bound that applies only to a queue that has not drained for a
///   while (CoDel's standing queue) was measured worse under overload: the queue drains now and then, and the
///   count bound alone then admits a long queue again. While a roll-out opens a deployment, and shortly after,
///   only the count bounds the queue (`holdDelayBound`): the opening takes the cores for a moment, and
///   shedding then would turn a planned roll-out into failed requests.
/// - **Deadlines and callers that leave.** A deadline is when the caller stops waiting for the answer. A
///   request that must wait and would be expected to end past it (its wait plus the recent mean request time)
///   is refused at once (`deadlineExceeded`), and a thread skips a queued one that would likely end past it
///   (the mean and four mean deviations); a free thread takes any request whose deadline has not passed.
///   A queued request whose deadline passes, or whose caller gives up (its task is cancelled, or
///   `Departure.signal()` — gRPC's cancellation handler), leaves the queue at that moment, answered
///   `deadlineExceeded` or `cancelled`, without touching a scoring thread. A request already
///   running finishes; the pool reports its time as spent for a caller that was gone.
public final class ScoringPool: Sendable {
    /// How long a request may expect to wait in the queue before it is shed instead.
    public enum QueueDelay: Sendable, Equatable {
        /// No bound but the count (`capacity`).
        case none
        /// A fixed wait.
        case fixed(Duration)
        /// `requests` times the recent mean request time, and at least `floor`: a bound that follows what a
        /// request costs (a fixed one is too long for cheap requests and too short for a few slow ones).
        case requests(Double, floor: Duration)

        /// The bound in seconds, given the recent mean request time; nil: none.
        func seconds(meanRun: Double) -> Double? {
            switch self {
            case .none: nil
            case .fixed(let d): ScoringPool.seconds(d)
            case .requests(let k, let floor): max(ScoringPool.seconds(floor), k * meanRun)
            }
        }
    }

    /// Why a request left the queue without running.
    public enum Drop: String, Sendable, CaseIterable {
        /// Its deadline passed, or would have before a thread could take it.
        case deadline
        /// Its caller stopped waiting (a cancelled RPC, a closed connection).
        case cancelled
    }

    /// What the pool tells its observer (the service's metrics).
    public enum Event: Sendable {
        /// A request ran on a scoring thread for `seconds`; `callerGone`: its caller had stopped waiting by the
        /// time it ended (work nobody used).
        case ran(seconds: Double, callerGone: Bool)
        /// A request left the queue, or was refused before it entered, for `Drop`.
        case dropped(Drop)
    }

    /// A caller's way to say it no longer waits, from any thread (gRPC's cancellation handler calls `signal`):
    /// a request still queued then leaves the queue at once.
    public final class Departure: Sendable {
        private let state = Mutex<(gone: Bool, reason: Drop, action: (@Sendable (Drop) -> Void)?)>(
            (false, .cancelled, nil))
        public init() {}

        /// The caller stopped waiting, for `reason`. Only the first call counts.
        public func signal(_ reason: Drop = .cancelled) {
            let action = state.withLock { s -> (@Sendable (Drop) -> Void)? in
                guard !s.gone else { return nil }
                s.gone = true
                s.reason = reason
                defer { s.action = nil }
                return s.action
            }
            action?(reason)
        }

        /// Calls `action` on `signal`, or now if it came already.
        fileprivate func onSignal(_ action: @escaping @Sendable (Drop) -> Void) {
            let now = state.withLock { s -> Drop? in
                if s.gone { return s.reason }
                s.action = action
                return nil
            }
            if let now { action(now) }
        }

    }

    private struct Job {
        let id: UInt64
        let deadline: ContinuousClock.Instant?
        /// Whether it found every thread busy (a free thread takes a request whatever its deadline's margin).
        var waited = false
        /// Computes the result, calls `finished` (the pool's bookkeeping), then replies: a caller that sends its
        /// next request as soon as it has the reply finds the thread already counted free.
        let run: @Sendable (_ finished: () -> Void) -> Void
        let fail: @Sendable (ServiceError) -> Void
    }
    private struct Queue {
        var jobs = Deque<Job>()
        /// The requests running, by id, and whether their caller has gone since they started.
        var running: [UInt64: Bool] = [:]
        var closed = false
        var nextID: UInt64 = 0
        /// Recent mean seconds a request runs (0 until the first one ends).
        var meanRun = 0.0
        /// Recent mean deviation of a request's time from `meanRun`.
        var runDeviation = 0.0
        /// A request's time that few exceed: the mean and 4 mean deviations (as TCP bounds a round trip, RFC
        /// 6298). A request that waited is started only if it would end by its deadline at this time.
        var likelyRun: Double { meanRun + 4 * runDeviation }
        /// Until when only `capacity` bounds the queue (a roll-out is under way).
        var delayBoundHeld: ContinuousClock.Instant?
    }
    public let threads: Int
    public let capacity: Int
    public let maxQueueDelay: QueueDelay
    private let observe: @Sendable (Event) -> Void
    private let queue = Mutex(Queue())
    private let ready = DispatchSemaphore(value: 0)
    private let stopped = DispatchGroup()
    private let timers = DispatchQueue(label: "lifelong.pool.deadlines")

    public init(
        threads: Int, capacity: Int, maxQueueDelay: QueueDelay = .none,
        observe: @escaping @Sendable (Event) -> Void = { _ in }
    ) {
        precondition(threads >= 1 && capacity >= 0)
        self.threads = threads
        self.capacity = capacity
        self.maxQueueDelay = maxQueueDelay
        self.observe = observe
        queue.withLock { $0.running.reserveCapacity(threads) }
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
    public var depth: (queued: Int, running: Int) { queue.withLock { ($0.jobs.count, $0.running.count) } }

    /// `body`'s result, computed on a scoring thread.
    /// - Parameters:
    ///   - deadline: when the caller stops waiting; a request still queued then is dropped.
    ///   - departure: signalled when the caller stops waiting for another reason.
    /// - Throws: `resourceExhausted` when the queue is full (`capacity`, `maxQueueDelay`); `deadlineExceeded`
    ///   when `deadline` passes, or would pass, before a thread takes it; `cancelled` when the caller leaves
    ///   (`departure`, or the task is cancelled) first; `unavailable` after `close`.
    public func run<T: Sendable>(
        deadline: ContinuousClock.Instant? = nil, departure: Departure? = nil,
        _ body: @escaping @Sendable () throws -> T
    ) async throws -> T {
        let id = queue.withLock { q in
            defer { q.nextID &+= 1 }
            return q.nextID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (reply: CheckedContinuation<T, any Error>) in
                var job = Job(
                    id: id, deadline: deadline,
                    run: { finished in
                        let result = Result { try body() }
                        finished()
                        reply.resume(with: result)
                    },
                    fail: { reply.resume(throwing: $0) })
                let (refusal, queued) = queue.withLock { q -> (ServiceError?, Bool) in
                    if q.closed { return (ServiceError(.unavailable, "the service is shutting down"), false) }
                    // A free thread takes the job at once; otherwise it waits in the queue, if there is room.
                    let waits = q.running.count + q.jobs.count >= threads
                    if waits, let refusal = admission(q, deadline: deadline) { return (refusal, false) }
                    job.waited = waits
                    q.jobs.append(job)
                    return (nil, waits)
                }
                if let refusal {
                    if refusal.code == .deadlineExceeded { observe(.dropped(.deadline)) }
                    reply.resume(throwing: refusal)
                    return
                }
                ready.signal()
                departure?.onSignal { [self] reason in leave(id, reason) }
                if queued, let deadline {
                    let wait = ContinuousClock.now.duration(to: deadline)
                    timers.asyncAfter(deadline: .now() + .nanoseconds(Int(max(0, Self.seconds(wait)) * 1e9))) {
                        [self] in leave(id, .deadline, running: false)
                    }
                }
            }
        } onCancel: {
            leave(id, .cancelled)
        }
    }

    /// The caller of request `id` stopped waiting: a queued request leaves the queue and is answered now; a
    /// running one is marked (with `running`), so that its time counts as spent for nobody.
    private func leave(_ id: UInt64, _ reason: Drop, running: Bool = true) {
        let job = queue.withLock { q -> Job? in
            if let k = q.jobs.firstIndex(where: { $0.id == id }) { return q.jobs.remove(at: k) }
            if running, q.running[id] != nil { q.running[id] = true }
            return nil
        }
        if let job { drop(job, reason) }
    }

    /// Answers a request that leaves without running, and counts it.
    private func drop(_ job: Job, _ reason: Drop) {
        observe(.dropped(reason))
        job.fail(
            reason == .deadline
                ? ServiceError(
                    .deadlineExceeded,
                    "the request's deadline passed, or would before it could end, while it waited for a scoring thread")
                : ServiceError(.cancelled, "the caller stopped waiting before a scoring thread took the request"))
    }

    /// Bounds the queue by `capacity` alone until `until` (nil: from now until the next call), so that the
    /// slower requests of a moment the service chose — a roll-out — queue rather than shed.
    public func holdDelayBound(until: ContinuousClock.Instant? = nil) {
        queue.withLock { $0.delayBoundHeld = until ?? .now.advanced(by: .seconds(3600)) }
    }

    /// Why a request that must wait may not, or nil when it may.
    private func admission(_ q: Queue, deadline: ContinuousClock.Instant?) -> ServiceError? {
        guard q.jobs.count < capacity else {
            return ServiceError(
                .resourceExhausted, "all \(threads) scoring threads are busy and \(capacity) requests wait: retry later"
            )
        }
        // Its own wait: those ahead of it and itself, less the threads free to take them now (one that just
        // answered and has not yet taken the next), over the threads, at the recent time of a request.
        let free = threads - q.running.count
        let wait = Double(max(0, q.jobs.count + 1 - free)) * q.meanRun / Double(threads)
        // The caller wants the answer by its deadline: one that would come later is not worth a thread's time.
        if let deadline {
            let left = Self.seconds(ContinuousClock.now.duration(to: deadline))
            if wait + q.meanRun > left {
                return ServiceError(
                    .deadlineExceeded,
                    "\(q.jobs.count) requests wait for \(threads) busy scoring threads: about \(Self.ms(wait)) ms "
                        + "of wait and \(Self.ms(q.meanRun)) ms to run, past the request's deadline in "
                        + "\(Self.ms(max(0, left))) ms")
            }
        }
        // A few requests always fit, so that requests longer than the delay still queue behind each other.
        guard let budget = maxQueueDelay.seconds(meanRun: q.meanRun), q.jobs.count >= 2 * threads else { return nil }
        if let held = q.delayBoundHeld, ContinuousClock.now < held { return nil }
        guard wait <= budget else {
            return ServiceError(
                .resourceExhausted,
                "\(q.jobs.count) requests wait for \(threads) busy scoring threads, about \(Self.ms(wait)) ms "
                    + "of work, over the \(Self.ms(budget)) ms a request may wait: retry later")
        }
        return nil
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
            var likelyRun = 0.0
            let next = queue.withLock { q -> Job?? in
                guard let job = q.jobs.popFirst() else { return q.closed ? .some(nil) : nil }
                q.running[job.id] = false
                likelyRun = q.likelyRun
                return job
            }
            guard let next else { continue }  // a wake left by a job another thread took or that left
            guard let job = next else { return }
            let start = ContinuousClock.now
            // Its deadline passed (its timer has not fired yet), or will before a request of the recent time
            // would likely end: the thread is worth more to the requests behind it.
            if let deadline = job.deadline, start + .nanoseconds(Int64(job.waited ? likelyRun * 1e9 : 0)) >= deadline {
                queue.withLock { _ = $0.running.removeValue(forKey: job.id) }
                drop(job, .deadline)
                continue
            }
            var seconds = 0.0
            var gone = false
            job.run {
                seconds = Self.seconds(start.duration(to: .now))
                gone = queue.withLock { q in
                    // The mean of about the last 8 requests: quick to follow a change of load, steady over noise.
                    if q.meanRun == 0 {
                        q.meanRun = seconds
                    } else {
                        q.runDeviation += (abs(seconds - q.meanRun) - q.runDeviation) / 4
                        q.meanRun += (seconds - q.meanRun) / 8
                    }
                    return q.running.removeValue(forKey: job.id) ?? false
                }
            }
            observe(.ran(seconds: seconds, callerGone: gone))
        }
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    static func ms(_ seconds: Double) -> Int { Int((seconds * 1e3).rounded()) }
}
