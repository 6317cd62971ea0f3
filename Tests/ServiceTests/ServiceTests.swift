import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Model
import Offline
import Scorer
@testable import Service
import Store
import Synchronization
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

let candidates = ["1", "7", "42", "299", "300", "not-an-item"]

/// Waits until `pool` runs a request, without blocking a thread of the cooperative pool (on 2 cores, two tests
/// blocked in a semaphore there would starve the tasks they wait for).
func busy(_ pool: ScoringPool) async throws {
    while pool.depth.running == 0 { try await Task.sleep(for: .milliseconds(1)) }
}
let users = ["1", "17", "59", "cold-user"]

@Suite("Scoring service: lifelong serve over gRPC and HTTP, the scoring pool, group commit")
struct ServiceTests {
    @Test("over gRPC and HTTP, scores equal Scorer.score bit for bit in every mode; a bad request names its field")
    func scoresMatchTheEmbeddedScorer() async throws {
        let f = try Fixture()
        defer { try? FileManager.default.removeItem(atPath: f.root) }
        let embedded = try Scorer(modelFolder: f.model, storeFolder: f.store)
        let service = try RunningService(["--model", f.model, "--store", f.store])
        try await withGRPCClient(
            transport: .http2NIOPosix(
                target: .ipv4(address: "127.0.0.1", port: service.grpcPort), transportSecurity: .plaintext)
        ) { client in
            let scorer = Lifelong_V1_Scorer.Client(wrapping: client)
            for user in users {
                for mode in Scorer.Mode.allCases {
                    let want = try embedded.score(user: user, candidates: candidates, mode: mode).map(\.bitPattern)
                    var request = Lifelong_V1_ScoreRequest()
                    request.user = user
                    request.candidates = candidates
                    request.mode = mode.rawValue
                    let reply = try await scorer.score(request)
                    #expect(reply.probabilities.map(\.bitPattern) == want, "gRPC, \(user), \(mode)")
                    #expect(reply.fingerprint == embedded.model.fingerprintHex)
                    let (status, body) = try await post(
                        service.httpPort, "/v1/score", ["user": user, "candidates": candidates, "mode": mode.rawValue])
                    let probabilities = (body["probabilities"] as? [Double] ?? []).map { Float($0).bitPattern }
                    #expect(status == 200 && probabilities == want, "HTTP, \(user), \(mode)")
                }
            }
            var bad = Lifelong_V1_ScoreRequest()
            bad.user = "1"
            bad.candidates = ["1", String(repeating: "x", count: Store.maxIdBytes + 1)]
            await #expect(throws: RPCError.self) { try await scorer.score(bad) }
            do { _ = try await scorer.score(bad) } catch let error as RPCError {
                #expect(error.code == .invalidArgument && error.message.contains("field 'candidates[1]'"))
            }
        }
        let (status, body) = try await post(
            service.httpPort, "/v1/score", ["user": "1", "candidates": ["1"], "mode": "x"])
        let message = (body["error"] as? [String: Any])?["message"] as? String ?? ""
        #expect(status == 400 && message.contains("field 'mode': unknown mode 'x'"), "\(body)")
        #expect(service.stop() == 0)
    }

    @Test("the scoring pool refuses at once when full, drops a request whose deadline passed, runs the rest")
    func poolShedsAndDrops() async throws {
        let pool = ScoringPool(threads: 1, capacity: 1)
        defer { pool.close() }
        let release = DispatchSemaphore(value: 0)
        let blocker = Task {
            try await pool.run {
                release.wait(); return 1
            }
        }
        try await busy(pool)  // the one thread is busy
        let ran = Atomic<Int>(0)
        let queued = Task {
            try await pool.run(deadline: .now + .milliseconds(50)) {
                ran.add(1, ordering: .relaxed); return 2
            }
        }
        while pool.depth.queued == 0 { try await Task.sleep(for: .milliseconds(1)) }
        // The queue (capacity 1) is full: the next request is refused without waiting.
        await #expect(
            throws: ServiceError(.resourceExhausted, "all 1 scoring threads are busy and 1 requests wait: retry later")
        ) {
            try await pool.run { 3 }
        }
        try await Task.sleep(for: .milliseconds(100))  // the queued request's deadline passes
        release.signal()
        #expect(try await blocker.value == 1)
        await #expect(throws: ServiceError.self) { try await queued.value }
        #expect(ran.load(ordering: .relaxed) == 0, "a request dropped for its deadline never runs")
        #expect(try await pool.run { 4 } == 4)
    }

    @Test("the scoring pool sheds a request that would wait longer than its delay bound, by the recent request time")
    func poolShedsByExpectedWait() async throws {
        let pool = ScoringPool(threads: 1, capacity: 64, maxQueueDelay: .fixed(.milliseconds(180)))
        defer { pool.close() }
        // Requests of 50 ms on one thread: two waiting always fit; a third is 150 ms of expected wait (within
        // the bound), a fourth 200 ms (shed).
        #expect(
            try await pool.run {
                Thread.sleep(forTimeInterval: 0.05); return 0
            } == 0)
        let release = DispatchSemaphore(value: 0)
        let blocker = Task {
            try await pool.run {
                release.wait(); return 1
            }
        }
        try await busy(pool)
        var queued: [Task<Int, any Error>] = []
        for k in 0..<3 {
            queued.append(Task { try await pool.run { 10 + k } })
            while pool.depth.queued <= k { try await Task.sleep(for: .milliseconds(1)) }
        }
        do {
            _ = try await pool.run { 3 }
            Issue.record("a request 200 ms of work behind the busy thread was admitted under a 180 ms bound")
        } catch let error as ServiceError {
            #expect(error.code == .resourceExhausted)
            #expect(error.message.contains("over the 180 ms a request may wait"), "\(error.message)")
        }
        // While the bound is held (a roll-out), the count alone bounds the queue; once released it sheds again.
        pool.holdDelayBound()
        let held = Task { try await pool.run { 5 } }
        while pool.depth.queued <= 3 { try await Task.sleep(for: .milliseconds(1)) }
        pool.holdDelayBound(until: .now)
        await #expect(throws: ServiceError.self) { try await pool.run { 6 } }
        release.signal()
        #expect(try await blocker.value == 1)
        #expect(try await held.value == 5)
        for (k, task) in queued.enumerated() { #expect(try await task.value == 10 + k) }
        #expect(try await pool.run { 4 } == 4, "a free thread takes a request whatever the recent request time")
    }

    @Test("a queued request leaves the queue when its deadline passes or its caller departs, without a scoring thread")
    func poolDropsDepartedAndExpiredRequests() async throws {
        let events = Mutex<[ScoringPool.Event]>([])
        let pool = ScoringPool(threads: 1, capacity: 64) { e in events.withLock { $0.append(e) } }
        defer { pool.close() }
        let release = DispatchSemaphore(value: 0)
        let blocker = Task {
            try await pool.run {
                release.wait(); return 1
            }
        }
        try await busy(pool)  // the one thread is busy until `release`
        let departure = ScoringPool.Departure()
        let departing = Task {
            try await pool.run(departure: departure) {
                2
            }
        }
        let expiring = Task {
            try await pool.run(deadline: .now + .milliseconds(30)) {
                3
            }
        }
        let cancelled = Task {
            try await pool.run {
                4
            }
        }
        while pool.depth.queued < 3 { try await Task.sleep(for: .milliseconds(1)) }
        departure.signal()
        cancelled.cancel()
        // All three are answered while the thread is still busy: nobody waits for a thread to free.
        await #expect(
            throws: ServiceError(.cancelled, "the caller stopped waiting before a scoring thread took the request")
        ) {
            try await departing.value
        }
        await #expect(throws: ServiceError.self) { try await cancelled.value }
        do {
            _ = try await expiring.value
            Issue.record("a request whose deadline passed in the queue ran")
        } catch let error as ServiceError { #expect(error.code == .deadlineExceeded) }
        #expect(pool.depth.queued == 0)
        release.signal()
        #expect(try await blocker.value == 1)
        let seen = events.withLock { $0 }
        let drops = seen.compactMap { if case .dropped(let r) = $0 { r } else { nil } }
        #expect(drops.sorted { $0.rawValue < $1.rawValue } == [.cancelled, .cancelled, .deadline])
        #expect(seen.filter { if case .ran = $0 { true } else { false } }.count == 1, "only the blocker ran")
    }

    @Test(
        "a request whose deadline comes before its expected wait is refused at once; a caller gone mid-run is counted")
    func poolRefusesHopelessDeadlinesAndCountsAbandonedRuns() async throws {
        let events = Mutex<[ScoringPool.Event]>([])
        let pool = ScoringPool(threads: 1, capacity: 64) { e in events.withLock { $0.append(e) } }
        defer { pool.close() }
        _ = try await pool.run { Thread.sleep(forTimeInterval: 0.04) }  // the recent request time: ~40 ms
        let release = DispatchSemaphore(value: 0)
        let departure = ScoringPool.Departure()
        let blocker = Task {
            try await pool.run(departure: departure) {
                release.wait(); return 1
            }
        }
        try await busy(pool)
        let before = ContinuousClock.now
        do {
            _ = try await pool.run(deadline: .now + .milliseconds(10)) { 2 }
            Issue.record("a request 40 ms behind a busy thread was queued with 10 ms left")
        } catch let error as ServiceError {
            #expect(error.code == .deadlineExceeded && error.message.contains("past the request's deadline"))
        }
        #expect(before.duration(to: .now) < .milliseconds(10), "refused at once, not when the deadline passed")
        departure.signal()  // the running request's caller leaves: it finishes, counted as work for nobody
        release.signal()
        #expect(try await blocker.value == 1)
        let seen = events.withLock { $0 }
        #expect(seen.count == 3)
        if case .ran(_, let gone) = seen.last { #expect(gone) } else { Issue.record("\(seen)") }
        if case .dropped(.deadline) = seen[1] {} else { Issue.record("\(seen)") }
    }

    @Test("each error code has its HTTP status and gRPC code from one table, and gRPC reads it from the error")
    func errorTable() {
        let want: [ServiceError.Code: (Int, RPCError.Code)] = [
            .invalidArgument: (400, .invalidArgument), .unauthenticated: (401, .unauthenticated),
            .permissionDenied: (403, .permissionDenied), .notFound: (404, .notFound),
            .failedPrecondition: (409, .failedPrecondition), .cancelled: (499, .cancelled),
            .internal: (500, .internalError), .resourceExhausted: (503, .resourceExhausted),
            .unavailable: (503, .unavailable), .deadlineExceeded: (504, .deadlineExceeded),
        ]
        #expect(Set(want.keys) == Set(ServiceError.Code.allCases))
        for code in ServiceError.Code.allCases {
            let e = ServiceError(code, "m")
            #expect(e.httpStatus == want[code]?.0, "\(code)")
            #expect(RPCError(e).code == want[code]?.1, "\(code)")
            #expect(RPCError(e).message == "m")
        }
    }

    @Test("grpc-timeout metadata is read in every unit; a malformed one is no deadline")
    func grpcTimeout() {
        func read(_ value: String) -> Duration? {
            var m = Metadata()
            m.addString(value, forKey: "grpc-timeout")
            return GRPCScorer.timeout(m)
        }
        #expect(read("125m") == .milliseconds(125))
        #expect(read("2S") == .seconds(2) && read("1M") == .seconds(60) && read("1H") == .seconds(3600))
        #expect(read("99999999u") == .microseconds(99_999_999) && read("7n") == .nanoseconds(7))
        for bad in ["", "m", "123456789m", "-1m", "+1m", "1.5m", "10x", "１m"] { #expect(read(bad) == nil, "\(bad)") }
    }

    @Test("concurrent appends through the service give the store that one append per event gives, byte for byte")
    func groupCommitEqualsOneByOne() async throws {
        let f = try Fixture()
        defer { try? FileManager.default.removeItem(atPath: f.root) }
        let served = try f.copyStore(), reference = try f.copyStore()
        defer { for p in [served, reference] { try? FileManager.default.removeItem(atPath: p) } }
        // 8 clients, each with its own users (so each user's order is its client's), known items only (a new
        // item's catalog index would follow commit order), some refused (older than the user's last).
        var batches: [[Scorer.Event]] = []
        for client in 0..<8 {
            var events: [Scorer.Event] = []
            for k in 0..<40 {
                let user = k % 5 == 4 ? "u\(client)-new" : "\(client * 7 + k % 4 + 1)"
                let t = 2e9 + Double(k) - (k % 9 == 8 ? 1e6 : 0)
                events.append(.init(user: user, item: "\(k * 13 % 300 + 1)", timestamp: t, label: k % 3 == 0))
            }
            batches.append(events)
        }
        let service = try RunningService(["--model", f.model, "--store", served, "--writable", "--max-batch", "64"])
        let statuses = try await withGRPCClient(
            transport: .http2NIOPosix(
                target: .ipv4(address: "127.0.0.1", port: service.grpcPort), transportSecurity: .plaintext)
        ) { client in
            let scorer = Lifelong_V1_Scorer.Client(wrapping: client)
            return try await withThrowingTaskGroup(of: (Int, [Lifelong_V1_EventStatus.Code]).self) { group in
                for (b, events) in batches.enumerated() {
                    group.addTask {
                        var codes: [Lifelong_V1_EventStatus.Code] = []
                        for chunk in stride(from: 0, to: events.count, by: 5) {  // 8 appends of 5 per client
                            var request = Lifelong_V1_AppendRequest()
                            request.events = events[chunk..<chunk + 5].map { e in
                                var m = Lifelong_V1_Event()
                                m.user = e.user
                                m.item = e.item
                                m.timestamp = e.timestamp
                                if let label = e.label { m.label = label }
                                return m
                            }
                            codes += try await scorer.append(request).statuses.map(\.code)
                        }
                        return (b, codes)
                    }
                }
                var all = [[Lifelong_V1_EventStatus.Code]](repeating: [], count: batches.count)
                for try await (b, codes) in group { all[b] = codes }
                return all
            }
        }
        #expect(service.stop() == 0)
        let writer = try Scorer(modelFolder: f.model, storeFolder: reference, writable: true)
        for (events, codes) in zip(batches, statuses) {
            for (e, code) in zip(events, codes) {
                let alone = try writer.append(events: [e])[0]
                #expect((alone == .appended) == (code == .appended), "\(e)")
            }
        }
        #expect(statuses.joined().contains(.refused) && statuses.joined().contains(.appended))
        #expect(try Store(path: served, readOnly: true).contents() == Store(path: reference, readOnly: true).contents())
    }
}

/// POSTs `body` as JSON; the status and the decoded reply.
func post(_ port: Int, _ path: String, _ body: [String: Any]) async throws -> (Int, [String: Any]) {
    var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
    request.httpMethod = "POST"
    request.httpBody = try JSONSerialization.data(withJSONObject: body)
    let (data, response) = try await URLSession.shared.data(for: request)
    let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    return ((response as? HTTPURLResponse)?.statusCode ?? 0, object)
}
