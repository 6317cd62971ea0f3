internal import CLMDB
public import Errors
import Glibc

/// The one error type of the storage layer: the LMDB (or errno) code, the C call that failed, the named
/// database and the store folder involved.
///
/// "Not found" is never an error: lookups return `nil` instead. Match codes in `catch` with `~=`:
/// ```swift
/// do { try env.write { … } } catch LMDBError.Code.mapFull { … }
/// ```
public struct LMDBError: KindedError, Equatable {
    /// An LMDB return code (`MDB_*`) or an `errno` value (`EACCES`, `ENOSPC`, `EIO`, …).
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        public static let keyExists = Code(rawValue: MDB_KEYEXIST)
        public static let notFound = Code(rawValue: MDB_NOTFOUND)
        public static let pageNotFound = Code(rawValue: MDB_PAGE_NOTFOUND)
        public static let corrupted = Code(rawValue: MDB_CORRUPTED)
        public static let panic = Code(rawValue: MDB_PANIC)
        public static let versionMismatch = Code(rawValue: MDB_VERSION_MISMATCH)
        public static let invalid = Code(rawValue: MDB_INVALID)
        /// The map is full. `Environment.write` grows the map and retries before this escapes.
        public static let mapFull = Code(rawValue: MDB_MAP_FULL)
        /// `maxDatabases` is too small for another named database.
        public static let databasesFull = Code(rawValue: MDB_DBS_FULL)
        /// Every reader slot is taken (`maxReaders`).
        public static let readersFull = Code(rawValue: MDB_READERS_FULL)
        public static let transactionFull = Code(rawValue: MDB_TXN_FULL)
        public static let mapResized = Code(rawValue: MDB_MAP_RESIZED)
        public static let incompatible = Code(rawValue: MDB_INCOMPATIBLE)
        public static let badTransaction = Code(rawValue: MDB_BAD_TXN)
        public static let badValueSize = Code(rawValue: MDB_BAD_VALSIZE)
        /// `EACCES`: a write on a read-only environment or transaction, or a folder without permission.
        public static let accessDenied = Code(rawValue: EACCES)
        /// `ENOSPC`: the disk is full.
        public static let noSpace = Code(rawValue: ENOSPC)
        /// `EIO`: an I/O error from the file system.
        public static let ioError = Code(rawValue: EIO)
        /// `ENOENT`: the store folder does not exist (read-only open never creates it).
        public static let noSuchFile = Code(rawValue: ENOENT)
        /// `EINVAL`: an invalid argument.
        public static let invalidArgument = Code(rawValue: EINVAL)

        /// LMDB's own message for the code (`mdb_strerror`, which also covers `errno` values).
        public var description: String { String(cString: mdb_strerror(rawValue)) }

        /// Lets `catch LMDBError.Code.mapFull { … }` match an `LMDBError` with that code.
        public static func ~= (code: Code, error: any Error) -> Bool {
            (error as? LMDBError)?.code == code
        }
    }

    public let code: Code
    /// The C call or wrapper operation that failed, e.g. `mdb_put`.
    public let operation: String
    /// The named database involved, if any (`nil` for the main database or environment-wide calls).
    public let database: String?
    /// The store folder.
    public let path: String
    /// A sentence for the user about what to do, when there is one.
    public let hint: String?

    public init(code: Code, operation: String, database: String? = nil, path: String, hint: String? = nil) {
        self.code = code
        self.operation = operation
        self.database = database
        self.path = path
        self.hint = hint
    }

    /// `notFound` for a missing folder, `damaged` for a corrupt or incompatible file, `invalidArgument` for a
    /// key or value LMDB cannot hold, `io` for everything else (permissions, a full disk or map, readers).
    public var kind: ErrorKind {
        switch code {
        case .noSuchFile: return .notFound
        case .corrupted, .pageNotFound, .panic, .versionMismatch, .invalid, .incompatible: return .damaged
        case .badValueSize: return .invalidArgument
        default: return .io
        }
    }

    public var description: String { message }

    public var message: String {
        var s = "LMDB \(operation) failed"
        if let database { s += " on database '\(database)'" }
        s += " in \(path): \(code) (code \(code.rawValue))"
        if let hint { s += "; \(hint)" }
        return s
    }
}
