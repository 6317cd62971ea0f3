public import GRPCCore
import Scorer

/// The gRPC service `lifelong.v1.Scorer` (proto/lifelong/v1/scorer.proto) over the request core.
public struct GRPCScorer: Lifelong_V1_Scorer.ServiceProtocol {
    let core: Core

    public init(core: Core) { self.core = core }

    public func score(
        request: ServerRequest<Lifelong_V1_ScoreRequest>, context: ServerContext
    ) async throws -> ServerResponse<Lifelong_V1_ScoreReply> {
        let arrived = ContinuousClock.now
        return try await answer {
            let m = request.message
            let call = Core.ScoreCall(user: m.user, candidates: m.candidates, mode: m.mode, timeoutMs: m.timeoutMs)
            // The caller's deadline travels into the pool, and gRPC's cancellation (the deadline passing, the
            // client resetting the stream, shutdown) takes a queued request out of it at once.
            let deadline = Self.timeout(request.metadata).map { arrived + $0 }
            let departure = ScoringPool.Departure()
            let (probabilities, fingerprint) = try await withRPCCancellationHandler {
                try await core.score(call, transport: "grpc", deadline: deadline, departure: departure)
            } onCancelRPC: {
                // The client's timer ends the call as its deadline passes, and its reset may arrive a little
                // before the server's timer fires: a cancellation that close to the deadline is the deadline.
                let late = deadline.map { ContinuousClock.now + .milliseconds(20) >= $0 } ?? false
                departure.signal(late ? .deadline : .cancelled)
            }
            var reply = Lifelong_V1_ScoreReply()
            reply.probabilities = probabilities
            reply.fingerprint = fingerprint
            return reply
        }
    }

    public func append(
        request: ServerRequest<Lifelong_V1_AppendRequest>, context: ServerContext
    ) async throws -> ServerResponse<Lifelong_V1_AppendReply> {
        try await answer {
            try core.authorize(request.metadata[stringValues: "authorization"].first(where: { _ in true }))
            return Self.reply(try await core.append(request.message.events.map(Self.event), transport: "grpc"))
        }
    }

    public func appendStream(
        request: StreamingServerRequest<Lifelong_V1_AppendRequest>, context: ServerContext
    ) async throws -> ServerResponse<Lifelong_V1_AppendReply> {
        try await answer {
            try core.authorize(request.metadata[stringValues: "authorization"].first(where: { _ in true }))
            var status: [Scorer.EventStatus] = []
            for try await message in request.messages {
                status += try await core.append(message.events.map(Self.event), transport: "grpc")
            }
            return Self.reply(status)
        }
    }

    public func describe(
        request: ServerRequest<Lifelong_V1_DescribeRequest>, context: ServerContext
    ) async throws -> ServerResponse<Lifelong_V1_DescribeReply> {
        try await answer {
            let d = try core.describe()
            var reply = Lifelong_V1_DescribeReply()
            reply.fingerprint = d.fingerprint
            reply.version = d.version
            reply.d = Int64(d.d)
            reply.items = Int64(d.items)
            reply.users = Int64(d.users)
            reply.shards = Int64(d.shards)
            reply.writable = d.writable
            reply.maxCandidates = Int64(d.maxCandidates)
            reply.threads = Int64(d.threads)
            reply.queueCapacity = Int64(d.queueCapacity)
            reply.model = d.model
            reply.store = d.store
            return reply
        }
    }

    static func event(_ e: Lifelong_V1_Event) -> Scorer.Event {
        Scorer.Event(
            user: e.user, item: e.item, timestamp: e.timestamp, label: e.hasLabel ? e.label : nil,
            category: e.hasCategory ? e.category : nil)
    }

    static func reply(_ status: [Scorer.EventStatus]) -> Lifelong_V1_AppendReply {
        var reply = Lifelong_V1_AppendReply()
        reply.statuses = status.map { s in
            var out = Lifelong_V1_EventStatus()
            switch s {
            case .appended:
                out.code = .appended
                reply.appended += 1
            case .alreadyApplied: out.code = .alreadyApplied
            case .refused(_, let reason):
                out.code = .refused
                out.reason = reason
                reply.refused += 1
            }
            return out
        }
        return reply
    }

    /// `body`'s reply, or its error as a `ServiceError`, which gRPC turns into the status of its code.
    func answer<Reply>(_ body: () async throws -> Reply) async throws -> ServerResponse<Reply> {
        do { return ServerResponse(message: try await body()) } catch { throw ServiceError(from: error) }
    }

    /// The call's `grpc-timeout` (1 to 8 digits and a unit: H, M, S, m, u, n), as the client sent it.
    static func timeout(_ metadata: Metadata) -> Duration? {
        guard let value = metadata[stringValues: "grpc-timeout"].first(where: { _ in true }),
            let unit = value.utf8.last, (2...9).contains(value.utf8.count),
            value.utf8.dropLast().allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            let amount = Int64(value.dropLast())
        else { return nil }
        return switch unit {
        case UInt8(ascii: "H"): .seconds(amount * 3600)
        case UInt8(ascii: "M"): .seconds(amount * 60)
        case UInt8(ascii: "S"): .seconds(amount)
        case UInt8(ascii: "m"): .milliseconds(amount)
        case UInt8(ascii: "u"): .microseconds(amount)
        case UInt8(ascii: "n"): .nanoseconds(amount)
        default: nil
        }
    }
}

/// `grpc.health.v1.Health`: SERVING while a model serves ("" and "lifelong.v1.Scorer"), NOT_SERVING
/// otherwise; any other service name is NOT_FOUND, as the protocol says.
public struct GRPCHealth: Grpc_Health_V1_Health.SimpleServiceProtocol {
    let core: Core

    public init(core: Core) { self.core = core }

    func status(_ service: String) throws -> Grpc_Health_V1_HealthCheckResponse {
        guard service.isEmpty || service == "lifelong.v1.Scorer" else {
            throw RPCError(code: .notFound, message: "unknown service '\(service.prefix(100))'")
        }
        var reply = Grpc_Health_V1_HealthCheckResponse()
        reply.status = core.readiness().ready ? .serving : .notServing
        return reply
    }

    public func check(
        request: Grpc_Health_V1_HealthCheckRequest, context: ServerContext
    ) async throws -> Grpc_Health_V1_HealthCheckResponse {
        try status(request.service)
    }

    /// The status now, then each change (looked at every second) until the call ends.
    public func watch(
        request: Grpc_Health_V1_HealthCheckRequest, response: RPCWriter<Grpc_Health_V1_HealthCheckResponse>,
        context: ServerContext
    ) async throws {
        var last = try status(request.service)
        try await response.write(last)
        while !Task.isCancelled {
            try await Task.sleep(for: .seconds(1))
            let now = try status(request.service)
            if now != last { try await response.write(now) }
            last = now
        }
    }
}
