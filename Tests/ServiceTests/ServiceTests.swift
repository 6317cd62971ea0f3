import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Model
import Offline
import Scorer
import Service
import Store
import Synchronization
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

let candidates = ["1", "7", "42", "299", "300", "not-an-item"]
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
                target: .ipv4(host: "127.0.0.1", port: service.grpcPort), transportSecurity: .plaintext)
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
        let started = DispatchSemaphore(value: 0)
        let blocker = Task {
            try await pool.run {
                started.signal(); release.wait(); return 1
            }
        }
        started.wait()  // the one thread is busy
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
                target: .ipv4(host: "127.0.0.1", port: service.grpcPort), transportSecurity: .plaintext)
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
