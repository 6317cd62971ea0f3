public import GRPCCore
import Scorer

/// The gRPC service `lifelong.v1.Scorer` (proto/lifelong/v1/scorer.proto) over the request core.
public struct GRPCScorer: Lifelong_V1_Scorer.ServiceProtocol {
    let core: Core

    public init(core: Core) { self.core = core }

    public func score(
        request: ServerRequest<Lifelong_V1_ScoreRequest>, context: ServerContext
    ) async throws -> ServerResponse<Lifelong_V1_ScoreReply> {
        try await answer {
            let m = request.message
            let call = Core.ScoreCall(user: m.user, candidates: m.candidates, mode: m.mode, timeoutMs: m.timeoutMs)
            let (probabilities, fingerprint) = try await core.score(call, transport: "grpc")
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

    /// `body`'s reply, or its error as the gRPC status of its code.
    func answer<Reply>(_ body: () async throws -> Reply) async throws -> ServerResponse<Reply> {
        do { return ServerResponse(message: try await body()) } catch {
            throw Self.rpcError(ServiceError(from: error))
        }
    }

    static func rpcError(_ e: ServiceError) -> RPCError {
        let code: RPCError.Code =
            switch e.code {
            case .invalidArgument: .invalidArgument
            case .resourceExhausted: .resourceExhausted
            case .deadlineExceeded: .deadlineExceeded
            case .failedPrecondition: .failedPrecondition
            case .unauthenticated: .unauthenticated
            case .notFound: .notFound
            case .unavailable: .unavailable
            case .internal: .internalError
            }
        return RPCError(code: code, message: e.message)
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
