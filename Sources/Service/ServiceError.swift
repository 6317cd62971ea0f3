import Errors
public import GRPCCore

/// Why the service did not answer a request, in the codes both protocols share. `Code.statuses` is the one
/// table from a code to its HTTP status and gRPC code (docs/SERVING.md, "Errors"); gRPC reads it through
/// `RPCErrorConvertible`, HTTP through `httpStatus`.
public struct ServiceError: Error, CustomStringConvertible, Sendable, Equatable, RPCErrorConvertible {
    public enum Code: String, Sendable, CaseIterable {
        /// A malformed body, a missing or wrong-typed field, an id that can never be a store key, an unknown mode.
        case invalidArgument = "invalid_argument"
        /// The scoring queue is full: try again after `retryAfterSeconds`.
        case resourceExhausted = "resource_exhausted"
        /// The request's deadline passed (or would have) before a scoring thread took it.
        case deadlineExceeded = "deadline_exceeded"
        /// The caller stopped waiting (a cancelled RPC) before a scoring thread took the request.
        case cancelled
        /// An append to a service started without `--writable`; a reload that failed.
        case failedPrecondition = "failed_precondition"
        /// A write or admin call without the bearer token of `--write-token-file`.
        case unauthenticated
        /// A reload naming a folder outside the reload root.
        case permissionDenied = "permission_denied"
        /// The route does not exist; a reload names a folder with no store.
        case notFound = "not_found"
        /// No model is serving (start-up, or shutting down).
        case unavailable
        /// The store failed below the request (an I/O error, a damaged record), or a bug.
        case `internal`

        /// The HTTP status and the gRPC code of each code: the one table both transports read.
        public var statuses: (http: Int, grpc: RPCError.Code) {
            switch self {
            case .invalidArgument: (400, .invalidArgument)
            case .unauthenticated: (401, .unauthenticated)
            case .permissionDenied: (403, .permissionDenied)
            case .notFound: (404, .notFound)
            case .failedPrecondition: (409, .failedPrecondition)
            // 499, "client closed request" (nginx's): nobody reads it, but the access log and metrics do.
            case .cancelled: (499, .cancelled)
            case .internal: (500, .internalError)
            case .resourceExhausted: (503, .resourceExhausted)
            case .unavailable: (503, .unavailable)
            case .deadlineExceeded: (504, .deadlineExceeded)
            }
        }
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

    public var httpStatus: Int { code.statuses.http }
    public var rpcErrorCode: RPCError.Code { code.statuses.grpc }
    public var rpcErrorMessage: String { message }

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
