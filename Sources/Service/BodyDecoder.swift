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

    /// The score request's body.
    func scoreCall(from request: Request) async throws -> Core.ScoreCall {
        let buffer = try await HTTPAPI.collect(request, limit: limit)
        return try buffer.withUnsafeReadableBytes { raw throws(ServiceError) in try ScoreBody.parse(raw) }
    }

    func decode<T: Decodable>(_ type: T.Type, from request: Request, context: some RequestContext) async throws -> T {
        let buffer = try await HTTPAPI.collect(request, limit: limit)
        if buffer.readableBytes == 0, let empty = T.self as? any EmptyBodyAllowed.Type { return empty.init() as! T }
        do {
            return try JSONDecoder().decode(T.self, from: buffer)
        } catch let error as DecodingError {
            throw ServiceError(.invalidArgument, HTTPAPI.describe(error))
        }
    }
}
