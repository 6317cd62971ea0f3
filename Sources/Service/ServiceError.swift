import Errors

/// Why the service did not answer a request, in the codes both protocols share: each maps to one gRPC
/// status and one HTTP status (docs/SERVING.md, "Errors").
public struct ServiceError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Code: String, Sendable, CaseIterable {
        /// A malformed body, a missing or wrong-typed field, an id that can never be a store key, an unknown mode.
        case invalidArgument = "invalid_argument"
        /// The scoring queue is full: try again after `retryAfterSeconds`.
        case resourceExhausted = "resource_exhausted"
        /// The request's time budget ran out before it started.
        case deadlineExceeded = "deadline_exceeded"
        /// An append to a service started without `--writable`.
        case failedPrecondition = "failed_precondition"
        /// A write or admin call without the bearer token of `--write-token-file`.
        case unauthenticated
        /// The route or method does not exist.
        case notFound = "not_found"
        /// No model is serving (start-up, or shutting down).
        case unavailable
        /// The store failed below the request (an I/O error, a damaged record), or a bug.
        case `internal`
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }

    /// Seconds a client should wait before retrying a shed request (HTTP `Retry-After`).
    public static let retryAfterSeconds = 1

    /// The HTTP status of each code.
    public var httpStatus: Int {
        switch code {
        case .invalidArgument: 400
        case .unauthenticated: 401
        case .notFound: 404
        case .failedPrecondition: 409
        case .resourceExhausted, .unavailable: 503
        case .deadlineExceeded: 504
        case .internal: 500
        }
    }

    /// A library error as the service reports it: what the caller got wrong is `invalidArgument`, the rest is
    /// the store's or a bug (`internal`, with the library's message).
    public init(from error: any Error) {
        if let error = error as? ServiceError {
            self = error
            return
        }
        switch ErrorKind(of: error) {
        case .invalidArgument, .input: self.init(.invalidArgument, "\(error)")
        default: self.init(.internal, "\(error)")
        }
    }
}
