import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Scorer

/// The HTTP/JSON API (docs/openapi.yaml): routes that decode, call the request core and encode.
enum HTTPAPI {
    static func router(core: Core) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: MethodCheck())
        let bodies = BodyDecoder(limit: core.configuration.maxRequestBytes)
        router.post("/v1/score") { request, _ in
            await respond {
                let call = try await bodies.scoreCall(from: request)
                let (probabilities, fingerprint) = try await core.score(call, transport: "http")
                return json(scoreReply(probabilities, fingerprint))
            }
        }
        router.post("/v1/append") { request, context in
            await respond {
                try core.authorize(request.headers[.authorization])
                let body = try await bodies.decode(AppendBody.self, from: request, context: context)
                let events = body.events.map {
                    Scorer.Event(
                        user: $0.user, item: $0.item, timestamp: $0.timestamp, label: $0.label, category: $0.category)
                }
                return json(try encoder.encode(AppendReplyBody(try await core.append(events, transport: "http"))))
            }
        }
        router.get("/v1/describe") { _, _ in await respond { json(try encoder.encode(try core.describe())) } }
        router.post("/v1/admin/reload") { request, context in
            await respond {
                try core.authorize(request.headers[.authorization])
                let body = try await BodyDecoder(limit: 1 << 16).decode(
                    ReloadBody.self, from: request, context: context)
                guard body.store == nil || body.manifest == nil else {
                    throw ServiceError(.invalidArgument, "give 'store' or 'manifest', not both")
                }
                let source: Configuration.Source? =
                    body.store.map { .store($0) } ?? body.manifest.map { .manifest($0) }
                try core.checkReloadFolders(model: body.model, store: body.store, manifest: body.manifest)
                return json(
                    try encoder.encode(["fingerprint": try await core.reload(model: body.model, source: source)]))
            }
        }
        router.get("/healthz") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
        }
        router.get("/readyz") { _, _ in
            let (ready, fingerprint, rollout) = core.readiness()
            let body = ReadyBody(ready: ready, fingerprint: fingerprint, last_rollout: rollout)
            var response = json((try? encoder.encode(body)) ?? Data())
            response.status = ready ? .ok : .serviceUnavailable
            return response
        }
        router.get("/metrics") { _, _ in
            core.metrics.queue(depth: core.pool.depth.queued)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(bytes: core.metrics.exposition())))
        }
        return router
    }

    /// A known path with a method it does not take: 405 with `Allow`, not the 404 of an unknown path.
    struct MethodCheck: RouterMiddleware {
        typealias Context = BasicRequestContext
        static let methods: [String: HTTPRequest.Method] = [
            "/v1/score": .post, "/v1/append": .post, "/v1/admin/reload": .post, "/v1/describe": .get,
            "/healthz": .get, "/readyz": .get, "/metrics": .get,
        ]

        func handle(
            _ request: Request, context: Context, next: (Request, Context) async throws -> Response
        ) async throws -> Response {
            guard let method = Self.methods[request.uri.path], request.method != method,
                !(method == .get && request.method == .head)
            else { return try await next(request, context) }
            var response = HTTPAPI.error(
                status: .methodNotAllowed, code: "invalid_argument",
                message: "\(request.uri.path) takes \(method.rawValue), not \(request.method.rawValue)")
            response.headers[.allow] = method.rawValue
            return response
        }
    }

    // MARK: Bodies (field names as in docs/openapi.yaml)

    struct EventBody: Decodable {
        var user: String
        var item: String
        var timestamp: Double
        var label: Bool?
        var category: String?
    }
    struct AppendBody: Decodable { var events: [EventBody] }
    /// Where to roll out to; each field absent (or no body at all): the folder serving now, read again.
    struct ReloadBody: Decodable, EmptyBodyAllowed {
        var model: String?
        var store: String?
        var manifest: String?
    }
    struct StatusBody: Encodable {
        var code: String
        var reason: String?
    }
    struct AppendReplyBody: Encodable {
        var statuses: [StatusBody]
        var appended = 0
        var refused = 0
        init(_ status: [Scorer.EventStatus]) {
            statuses = status.map { s in
                switch s {
                case .appended: StatusBody(code: "appended")
                case .alreadyApplied: StatusBody(code: "already_applied")
                case .refused(_, let reason): StatusBody(code: "refused", reason: reason)
                }
            }
            for s in status { if case .refused = s { refused += 1 } else if s == .appended { appended += 1 } }
        }
    }
    struct ReadyBody: Encodable {
        var ready: Bool
        var fingerprint: String?
        var last_rollout: Core.Rollout?
    }
    struct ErrorBody: Encodable {
        struct Detail: Encodable {
            var code: String
            var message: String
        }
        var error: Detail
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    /// The score reply written directly: each probability in its shortest form that reads back as the same
    /// float32 (a non-finite one, which a sound bundle never gives, as null).
    static func scoreReply(_ probabilities: [Float], _ fingerprint: String) -> Data {
        var text = "{\"probabilities\":["
        text.reserveCapacity(probabilities.count * 12 + 100)
        for (k, p) in probabilities.enumerated() {
            if k > 0 { text += "," }
            text += p.isFinite ? p.description : "null"
        }
        text += "],\"fingerprint\":\"\(fingerprint)\"}"
        return Data(text.utf8)
    }

    static func json(_ data: Data) -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The whole body; one over `limit` bytes is `invalidArgument`.
    static func collect(_ request: Request, limit: Int) async throws -> ByteBuffer {
        var request = request
        do { return try await request.collectBody(upTo: limit) } catch {
            throw ServiceError(.invalidArgument, "the body is longer than \(limit) bytes (--max-request-bytes)")
        }
    }

    /// A decoding error as a message that names the field.
    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.reduce("") { p, k in
                k.intValue.map { "\(p)[\($0)]" } ?? (p.isEmpty ? k.stringValue : "\(p).\(k.stringValue)")
            }
        }
        switch error {
        case .keyNotFound(let key, let c): return "field '\(path(c.codingPath + [key]))' is missing"
        case .typeMismatch(let type, let c), .valueNotFound(let type, let c):
            return "field '\(path(c.codingPath))': expected \(jsonType(type))"
        case .dataCorrupted(let c):
            return c.codingPath.isEmpty
                ? "the body is not a JSON object of UTF-8 text" : "field '\(path(c.codingPath))': \(c.debugDescription)"
        @unknown default: return "the body does not decode: \(error)"
        }
    }

    static func jsonType(_ type: Any.Type) -> String {
        let name = String(describing: type)
        return switch type {
        case is String.Type: "a string"
        case is Double.Type: "a number"
        case is Bool.Type: "true or false"
        default: name.hasPrefix("Array") || name.hasPrefix("[") ? "an array" : "an object"
        }
    }

    /// `body`'s response, or the error's: `{"error": {"code", "message"}}` with the code's status, and
    /// `Retry-After` on a shed request.
    static func respond(_ body: () async throws -> Response) async -> Response {
        do { return try await body() } catch {
            let failure = ServiceError(from: error)
            var response = Self.error(
                status: .init(code: failure.httpStatus), code: failure.code.rawValue, message: failure.message)
            if failure.code == .resourceExhausted {
                response.headers[.retryAfter] = "\(ServiceError.retryAfterSeconds)"
            }
            return response
        }
    }

    /// `{"error": {"code", "message"}}` with `status`.
    static func error(status: HTTPResponse.Status, code: String, message: String) -> Response {
        let detail = ErrorBody(error: .init(code: code, message: message))
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: (try? encoder.encode(detail)) ?? Data())))
    }
}
