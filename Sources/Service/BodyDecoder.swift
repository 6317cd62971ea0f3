import Foundation
import Hummingbird
import NIOCore
import NIOFoundationCompat

/// A body that may be empty: it then decodes as `init()`.
protocol EmptyBodyAllowed { init() }

/// The one way an HTTP route reads its body (Hummingbird's `RequestDecoder`): the bytes, at most `limit`, as
/// one `ByteBuffer`; the score body by its one-pass reader (`ScoreBody`, several times faster than
/// `JSONDecoder` on a thousand candidates: `lifelong-bench decode`), any other by `JSONDecoder` from the
/// buffer. Every failure is `invalidArgument` naming the field.
struct BodyDecoder: RequestDecoder {
    let limit: Int

    func decode<T: Decodable>(_ type: T.Type, from request: Request, context: some RequestContext) async throws -> T {
        let buffer = try await HTTPAPI.collect(request, limit: limit)
        if T.self == Core.ScoreCall.self {
            let call = try buffer.withUnsafeReadableBytes { raw throws(ServiceError) in try ScoreBody.parse(raw) }
            return call as! T  // T is Core.ScoreCall
        }
        if buffer.readableBytes == 0, let empty = T.self as? any EmptyBodyAllowed.Type { return empty.init() as! T }
        do {
            return try JSONDecoder().decode(T.self, from: buffer)
        } catch let error as DecodingError {
            throw ServiceError(.invalidArgument, HTTPAPI.describe(error))
        }
    }
}

extension Core.ScoreCall: Decodable {
    private enum Keys: String, CodingKey {
        case user, candidates, mode
        case timeoutMs = "timeout_ms"
    }

    /// The fields of docs/openapi.yaml's ScoreRequest (`BodyDecoder` reads HTTP bodies with `ScoreBody`).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        self.init(
            user: try c.decode(String.self, forKey: .user),
            candidates: try c.decode([String].self, forKey: .candidates),
            mode: try c.decodeIfPresent(String.self, forKey: .mode) ?? "",
            timeoutMs: try c.decodeIfPresent(Double.self, forKey: .timeoutMs) ?? 0)
    }
}
