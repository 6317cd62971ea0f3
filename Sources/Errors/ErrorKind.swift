/// What kind of failure an error is, in the one vocabulary every boundary speaks: the C ABI's statuses
/// (`lifelong_status`), the Python package's exception classes and the CLI's messages all follow it.
public enum ErrorKind: String, Sendable, CaseIterable, CustomStringConvertible {
    /// An argument the callee cannot use: a NULL or empty id, an unknown mode, a bad flag value, an append
    /// on a read-only scorer, one older than the user's last behavior.
    case invalidArgument = "invalid_argument"
    /// A file or folder that should be there is not: the model bundle, the store, the manifest.
    case notFound = "not_found"
    /// A store or manifest made with another model bundle than the one given (their fingerprints differ).
    case modelMismatch = "model_mismatch"
    /// A file or record that exists but is not what its format says: a damaged bundle, store record or
    /// manifest, or one of another version.
    case damaged
    /// A behavior log (or event stream) that breaks the log rules of docs/FORMATS.md; the error names the
    /// file and the line.
    case input
    /// Reading or writing failed below the format: permissions, a full disk, an LMDB call.
    case io
    /// Anything else: a bug; the message says what.
    case `internal`

    public var description: String { rawValue }
}

/// What every Lifelong error says: its kind, and a message that names what is wrong (the file and line, the
/// tensor, the database and key, the store folder). `LifelongError` is the error of every layer; the errors that
/// carry more for their callers (a log's file and line, a safetensors file's tensor, an LMDB code, the service's
/// statuses) say the same through this protocol.
public protocol KindedError: Error, CustomStringConvertible, Sendable {
    var kind: ErrorKind { get }
    var message: String { get }
}

extension KindedError {
    public var description: String { message }
}

/// The error of every Lifelong layer: a kind and a message. `ErrorKind(of: error)` reads the kind of it and of
/// any `KindedError`.
public struct LifelongError: KindedError, Equatable {
    public let kind: ErrorKind
    public let message: String

    public init(_ kind: ErrorKind, message: String) {
        self.kind = kind
        self.message = message
    }
}

extension ErrorKind {
    /// The kind of any error: its own for a `KindedError`, `.internal` for anything else.
    public init(of error: any Error) {
        self = (error as? any KindedError)?.kind ?? .internal
    }
}
