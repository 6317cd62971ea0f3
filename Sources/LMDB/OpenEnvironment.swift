internal import CLMDB
import Glibc
import Synchronization

/// A reset read transaction waiting in the pool; only ever touched by one thread at a time.
struct TransactionHandle: @unchecked Sendable {
    let txn: OpaquePointer
}

/// A pthread read-write lock (reader-preferring, so nested reads on one thread cannot deadlock).
final class ReadWriteLock: @unchecked Sendable {
    private let lock = UnsafeMutablePointer<pthread_rwlock_t>.allocate(capacity: 1)
    init() { precondition(pthread_rwlock_init(lock, nil) == 0) }
    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }
    @inline(__always) func lockShared() { pthread_rwlock_rdlock(lock) }
    @inline(__always) func lockExclusive() { pthread_rwlock_wrlock(lock) }
    @inline(__always) func unlock() { pthread_rwlock_unlock(lock) }
}

/// A folder's identity (device and inode), the key of the process's open environments.
struct FileIdentity: Hashable {
    let device: UInt64
    let inode: UInt64
}

/// One `MDB_env` of this process and the state every `Environment` value on it shares.
final class OpenEnvironment: @unchecked Sendable {
    let env: OpaquePointer
    let identity: FileIdentity
    /// Opened without `MDB_RDONLY`: values that ask for writes may share it.
    let writable: Bool
    let mapLock = ReadWriteLock()
    /// The thread that holds this environment's write transaction, to catch nested writes.
    let writer = Mutex<pthread_t?>(nil)
    /// Reset read transactions kept for `mdb_txn_renew`.
    let readPool = Mutex<[TransactionHandle]>([])
    let databases = Mutex<[String: Database]>([:])

    private init(env: OpaquePointer, identity: FileIdentity, writable: Bool) {
        self.env = env
        self.identity = identity
        self.writable = writable
    }

    /// Open environments by folder, with how many `Environment` values use each. Opening and the final
    /// close both happen under this lock, so a folder is never open twice, not even for an instant.
    private static let table = Mutex<[FileIdentity: (core: OpenEnvironment, users: Int)]>([:])

    static func acquire(
        _ identity: FileIdentity, path: String, options: Environment.Options
    ) throws -> (OpenEnvironment, staleReadersCleared: Int) {
        try table.withLock { open throws -> (OpenEnvironment, Int) in
            if let entry = open[identity] {
                guard entry.core.writable || options.readOnly else {
                    throw LMDBError(
                        code: .accessDenied, operation: "mdb_env_open", path: path,
                        hint: "this process has the store open read-only (its files are not writable); "
                            + "close it before opening the store for writing")
                }
                open[identity] = (entry.core, entry.users + 1)
                return (entry.core, 0)
            }
            let (core, dead) = try Self.open(identity, path: path, options: options)
            open[identity] = (core, 1)
            return (core, dead)
        }
    }

    static func release(_ core: OpenEnvironment) {
        table.withLock { open in
            guard let entry = open[core.identity] else { return }
            if entry.users > 1 {
                open[core.identity] = (entry.core, entry.users - 1)
                return
            }
            open[core.identity] = nil
            for handle in core.readPool.withLock({ $0 }) { mdb_txn_abort(handle.txn) }
            mdb_env_close(core.env)
        }
    }

    /// `mdb_env_create` and `mdb_env_open`. A read-only request still opens writable when the store exists
    /// and its files may be written, so a later writer in this process can share the environment.
    private static func open(
        _ identity: FileIdentity, path: String, options: Environment.Options
    ) throws -> (OpenEnvironment, Int) {
        let dataFile = path + "/data.mdb"
        let writable =
            !options.readOnly
            || (access(dataFile, W_OK) == 0 && access(path, W_OK) == 0
                && (access(path + "/lock.mdb", F_OK) != 0 || access(path + "/lock.mdb", W_OK) == 0))
        var envp: OpaquePointer?
        try Environment.check(mdb_env_create(&envp), "mdb_env_create", path: path)
        let env = envp!
        func fail(_ rc: Int32, _ op: String, hint: String? = nil) -> LMDBError {
            mdb_env_close(env)
            return LMDBError(code: .init(rawValue: rc), operation: op, path: path, hint: hint)
        }
        var rc = mdb_env_set_mapsize(env, options.mapSize)
        if rc != 0 { throw fail(rc, "mdb_env_set_mapsize") }
        rc = mdb_env_set_maxdbs(env, MDB_dbi(options.maxDatabases))
        if rc != 0 { throw fail(rc, "mdb_env_set_maxdbs") }
        rc = mdb_env_set_maxreaders(env, UInt32(options.maxReaders))
        if rc != 0 { throw fail(rc, "mdb_env_set_maxreaders") }
        var flags = UInt32(MDB_NOTLS)
        if !writable { flags |= UInt32(MDB_RDONLY) }
        switch options.durability {
        case .full: break
        case .noMetaSync: flags |= UInt32(MDB_NOMETASYNC)
        case .noSync: flags |= UInt32(MDB_NOSYNC)
        }
        rc = mdb_env_open(env, path, flags, 0o644)
        if rc != 0 {
            let hint: String? =
                switch rc {
                case ENOENT: "no store at this path (read-only open never creates one)"
                case EACCES: "permission denied"
                case MDB_INVALID: "the folder holds a file that is not an LMDB environment"
                case MDB_VERSION_MISMATCH: "the store was written by an incompatible LMDB version"
                default: nil
                }
            throw fail(rc, "mdb_env_open", hint: hint)
        }
        var dead: Int32 = 0
        rc = mdb_reader_check(env, &dead)
        if rc != 0 { throw fail(rc, "mdb_reader_check") }
        return (OpenEnvironment(env: env, identity: identity, writable: writable), Int(dead))
    }
}
