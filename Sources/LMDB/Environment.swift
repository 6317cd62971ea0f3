internal import CLMDB
import Glibc
import Synchronization

#if _endian(big)
#error("Lifelong stores little-endian values and reads them with plain copies: big-endian hosts are unsupported")
#endif

/// An LMDB environment: one store folder (`data.mdb` + `lock.mdb`), opened once per process.
///
/// Threading (how LMDB's rules are kept):
/// - The environment is opened with `MDB_NOTLS`: a read transaction belongs to its `Transaction` value, not
///   to the thread, so `read {}` may run on any thread, many at once, and nested in one another. Read
///   transactions are recycled (`mdb_txn_reset` / `mdb_txn_renew`) so a read costs no reader-table scan.
/// - `write {}` serialises writers (LMDB's own writer mutex, across processes). A `write {}` nested in a
///   `write {}` on the same environment and thread would deadlock, so it is a precondition failure.
/// - Map growth must happen with no transaction of this process open: every transaction holds a shared
///   lock for its lifetime and growth takes it exclusively. Never start a `write {}` inside a `read {}`
///   of the same environment (the growth would wait for the read to end).
public final class Environment: @unchecked Sendable {
    /// How commits reach the disk.
    public enum Durability: Sendable, Equatable {
        /// Default: `fsync` on every commit; a committed transaction survives an OS crash or power loss.
        case full
        /// `MDB_NOMETASYNC`: the meta page is flushed lazily; an OS crash may lose the last commit but
        /// never corrupts the store.
        case noMetaSync
        /// `MDB_NOSYNC`: no `fsync` at commit (call `sync()` yourself). A process crash loses nothing; an
        /// OS crash may lose recent commits and, on file systems that reorder writes, corrupt the store.
        /// For rebuildable bulk loads only.
        case noSync
    }

    public struct Options: Sendable {
        /// Initial map size in bytes (the largest the data file may grow before `write` enlarges it).
        public var mapSize: Int = 64 << 20
        /// Upper bound for automatic map growth on `MDB_MAP_FULL`.
        public var maxMapSize: Int = 1 << 40
        /// Named databases the environment may hold (`mdb_env_set_maxdbs`).
        public var maxDatabases: Int = 16
        /// Reader slots (`mdb_env_set_maxreaders`), shared by every process that opens the store.
        public var maxReaders: Int = 126
        public var durability: Durability = .full
        /// Open without the right to write; `write {}` then throws `accessDenied`. Never creates the folder.
        public var readOnly: Bool = false
        /// Create the folder if it is missing (ignored when `readOnly`).
        public var create: Bool = true

        public init() {}
    }

    public let path: String
    public let options: Options
    /// Reader slots left by dead processes and cleared by `mdb_reader_check` when the store was opened
    /// (0 when this process had it open already).
    public let staleReadersCleared: Int

    /// The process's one LMDB environment for this folder, shared by every `Environment` value opened on it.
    let core: OpenEnvironment
    var env: OpaquePointer { core.env }
    /// Shared by every transaction of this process, exclusive while the map is resized.
    var mapLock: ReadWriteLock { core.mapLock }

    /// Test hook: called before each checked C call with its name; a non-nil code is returned instead of
    /// calling LMDB (to inject `MDB_MAP_FULL`, `ENOSPC`, `MDB_READERS_FULL`, …). Set it while no
    /// transaction runs. An atomic flag keeps the unhooked path to one relaxed load.
    var faultInjector: (@Sendable (String) -> Int32?)? {
        get { faultsEnabled.load(ordering: .relaxed) ? injector : nil }
        set {
            injector = newValue
            faultsEnabled.store(newValue != nil, ordering: .releasing)
        }
    }
    private let faultsEnabled = Atomic<Bool>(false)
    nonisolated(unsafe) private var injector: (@Sendable (String) -> Int32?)?

    /// Opens (or creates) the store folder at `path`.
    ///
    /// LMDB forbids opening one environment twice in a process (closing one would release the other's
    /// locks and reader slots), so a folder already open in this process is shared: the values have their
    /// own `options.readOnly` (a read-only value refuses writes) and the first opener's map size,
    /// durability and reader slots. The environment closes with the last value.
    ///
    /// - Complexity: `mdb_env_create`, `mdb_env_open`, then `mdb_reader_check` (the first open only).
    public init(path: String, options: Options = Options()) throws {
        self.path = path
        self.options = options
        if !options.readOnly && options.create {
            if mkdir(path, 0o755) != 0 && errno != EEXIST {
                throw LMDBError(
                    code: .init(rawValue: errno), operation: "mkdir", path: path,
                    hint: "cannot create the store folder")
            }
        }
        var st = stat()
        guard stat(path, &st) == 0 else {
            let code = errno
            throw LMDBError(
                code: .init(rawValue: code), operation: "mdb_env_open", path: path,
                hint: code == ENOENT ? "no store at this path (read-only open never creates one)" : nil)
        }
        let identity = FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
        (core, staleReadersCleared) = try OpenEnvironment.acquire(identity, path: path, options: options)
    }

    deinit { OpenEnvironment.release(core) }

    // MARK: Checked calls

    static func check(_ rc: Int32, _ operation: String, database: String? = nil, path: String) throws(LMDBError) {
        if rc != 0 { throw LMDBError(code: .init(rawValue: rc), operation: operation, database: database, path: path) }
    }

    /// Every fallible LMDB call of the wrapper goes through here, so tests can inject failures.
    @inline(__always)
    func call(_ operation: StaticString, _ database: Database? = nil, _ body: () -> Int32) throws(LMDBError) {
        var rc: Int32
        if faultsEnabled.load(ordering: .relaxed), let inject = injector, let code = inject(operation.description) {
            rc = code
        } else {
            rc = body()
        }
        if rc != 0 {
            throw LMDBError(
                code: .init(rawValue: rc), operation: operation.description, database: database?.name,
                path: path, hint: Environment.hint(for: rc))
        }
    }

    static func hint(for rc: Int32) -> String? {
        switch rc {
        case EACCES: "the store or transaction is read-only"
        case MDB_READERS_FULL: "all reader slots are taken; raise maxReaders or end long-lived reads"
        case MDB_DBS_FULL: "raise maxDatabases"
        case ENOSPC: "the disk is full; nothing of this transaction was committed"
        case MDB_MAP_FULL: "the map reached maxMapSize; raise it"
        default: nil
        }
    }

    // MARK: Transactions

    /// Runs `body` in a read transaction: a consistent snapshot, unaffected by concurrent writers.
    ///
    /// Values lent inside `body` point into the memory map: copy what must outlive the closure.
    /// - Complexity: `mdb_txn_renew` (or `mdb_txn_begin` the first time), then `mdb_txn_reset`; no
    ///   allocation once warm.
    @discardableResult
    public func read<R>(_ body: (borrowing Transaction) throws -> R) throws -> R {
        while true {
            mapLock.lockShared()
            let txn: OpaquePointer
            do throws(LMDBError) {
                txn = try beginRead()
            } catch {
                mapLock.unlock()
                if error.code == .mapResized { try adoptForeignMapSize(); continue }
                throw error
            }
            defer {
                endRead(txn)
                mapLock.unlock()
            }
            return try body(Transaction(txn: txn, environment: self, isReadOnly: true))
        }
    }

    private func beginRead() throws(LMDBError) -> OpaquePointer {
        let txn: OpaquePointer
        if let pooled = core.readPool.withLock({ $0.popLast()?.txn }) {
            do throws(LMDBError) {
                try call("mdb_txn_renew") { mdb_txn_renew(pooled) }
            } catch {
                mdb_txn_abort(pooled)
                throw error
            }
            txn = pooled
        } else {
            var fresh: OpaquePointer?
            try call("mdb_txn_begin") { mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &fresh) }
            txn = fresh!
        }
        // LMDB 0.9 reads the last transaction id, then the meta page of that id's parity. A reader
        // delayed between the two while the writer commits twice copies the meta of id + 2, which the
        // next read then contradicts (a snapshot going back in time). Two commits after the id mean the
        // page may have been rewritten under the copy: take a fresh snapshot.
        var info = MDB_envinfo()
        while mdb_env_info(env, &info) == 0, info.me_last_txnid > mdb_txn_id(txn) + 1 {
            mdb_txn_reset(txn)
            do throws(LMDBError) {
                try call("mdb_txn_renew") { mdb_txn_renew(txn) }
            } catch {
                mdb_txn_abort(txn)
                throw error
            }
        }
        return txn
    }

    private func endRead(_ txn: OpaquePointer) {
        mdb_txn_reset(txn)
        let kept = core.readPool.withLock { pool in
            guard pool.count < 64 else { return false }
            pool.append(TransactionHandle(txn: txn))
            return true
        }
        if !kept { mdb_txn_abort(txn) }
    }

    /// Runs `body` in the write transaction and commits it; a thrown error aborts it, leaving the store as
    /// it was.
    ///
    /// When the map is full (`MDB_MAP_FULL` from a put or from the commit), the transaction is aborted, the
    /// map is doubled (up to `maxMapSize`) with no transaction of this process open, and `body` runs again
    /// from the start — so `body` must not have effects outside the transaction that cannot be repeated.
    /// - Complexity: `mdb_txn_begin`, `body`, `mdb_txn_commit` (one `fsync` under `.full` durability).
    @discardableResult
    public func write<R>(_ body: (borrowing Transaction) throws -> R) throws -> R {
        if options.readOnly {
            throw LMDBError(
                code: .accessDenied, operation: "write transaction", path: path,
                hint: "the store was opened read-only")
        }
        let me = pthread_self()
        // Checked before LMDB's writer mutex would deadlock on a nested write.
        precondition(
            core.writer.withLock({ $0 }).map { pthread_equal($0, me) == 0 } ?? true,
            "nested write transaction on \(path): LMDB allows one write transaction per thread")
        while true {
            mapLock.lockShared()
            var txnp: OpaquePointer?
            do throws(LMDBError) {
                try call("mdb_txn_begin") { mdb_txn_begin(env, nil, 0, &txnp) }
            } catch {
                mapLock.unlock()
                if error.code == .mapResized { try adoptForeignMapSize(); continue }
                throw error
            }
            core.writer.withLock { $0 = me }
            let txn = txnp!
            var finished = false  // mdb_txn_commit frees the transaction even when it fails
            do {
                let result = try body(Transaction(txn: txn, environment: self, isReadOnly: false))
                try call("mdb_txn_commit") {
                    finished = true
                    return mdb_txn_commit(txn)
                }
                core.writer.withLock { $0 = nil }
                mapLock.unlock()
                return result
            } catch let error as LMDBError where error.code == .mapFull {
                if !finished { mdb_txn_abort(txn) }
                core.writer.withLock { $0 = nil }
                mapLock.unlock()
                try grow()
            } catch {
                if !finished { mdb_txn_abort(txn) }
                core.writer.withLock { $0 = nil }
                mapLock.unlock()
                throw error
            }
        }
    }

    // MARK: Map size

    /// The current map size in bytes.
    public var mapSize: Int { info.mapSize }

    /// Doubles the map (bounded by `maxMapSize`) with every transaction of this process excluded.
    func grow() throws {
        mapLock.lockExclusive()
        defer { mapLock.unlock() }
        let current = info.mapSize
        guard current < options.maxMapSize else {
            throw LMDBError(
                code: .mapFull, operation: "grow map", path: path,
                hint: "the map reached maxMapSize (\(options.maxMapSize) bytes); raise it")
        }
        let next = min(max(current * 2, current + (1 << 20)), options.maxMapSize)
        try call("mdb_env_set_mapsize") { mdb_env_set_mapsize(env, next) }
    }

    /// Another process grew the map: adopt its size (`mdb_env_set_mapsize(env, 0)`).
    private func adoptForeignMapSize() throws {
        mapLock.lockExclusive()
        defer { mapLock.unlock() }
        try call("mdb_env_set_mapsize") { mdb_env_set_mapsize(env, 0) }
    }

    // MARK: Information

    public struct Info: Sendable {
        public var mapSize: Int
        public var lastPage: Int
        public var lastTransaction: Int
        public var maxReaders: Int
        public var readersInUse: Int
    }

    /// `mdb_env_info`.
    public var info: Info {
        var i = MDB_envinfo()
        mdb_env_info(env, &i)
        return Info(
            mapSize: i.me_mapsize, lastPage: i.me_last_pgno, lastTransaction: i.me_last_txnid,
            maxReaders: Int(i.me_maxreaders), readersInUse: Int(i.me_numreaders))
    }

    /// Bytes of the data file in use: `(last page + 1) × page size`.
    public var usedBytes: Int {
        var s = MDB_stat()
        mdb_env_stat(env, &s)
        return (info.lastPage + 1) * Int(s.ms_psize)
    }

    /// Flushes buffers to disk (`mdb_env_sync(force: 1)`), for `.noSync` / `.noMetaSync` environments.
    public func sync() throws {
        try call("mdb_env_sync") { mdb_env_sync(env, 1) }
    }

    /// Writes a consistent copy of the store into the empty folder `destination` (`mdb_env_copy2`);
    /// `compact` omits free pages, like `mdb_copy -c`.
    public func copy(to destination: String, compact: Bool = false) throws {
        try call("mdb_env_copy2") { mdb_env_copy2(env, destination, compact ? UInt32(MDB_CP_COMPACT) : 0) }
    }

    /// Clears reader slots of dead processes now (also done at open). Returns how many were cleared.
    @discardableResult
    public func clearStaleReaders() throws -> Int {
        var dead: Int32 = 0
        try call("mdb_reader_check") { mdb_reader_check(env, &dead) }
        return Int(dead)
    }

    /// The `MDB_env *` for code that must call LMDB directly (the raw-C comparison benchmark). Do not close
    /// it, resize it or keep it beyond the environment's life.
    public var unsafeRawHandle: OpaquePointer { env }

    // MARK: Named databases

    /// Opens the named database, creating it when `create` is true. Handles are cached: opening the same
    /// name again returns the same handle. Open databases before starting transactions that use them.
    /// - Returns: `nil` if it does not exist and `create` is false.
    /// - Complexity: first time per name: a transaction with `mdb_dbi_open`, committed so the handle is
    ///   shared by the whole environment (also for read-only environments).
    public func database(_ name: String, create: Bool = true) throws -> Database? {
        try databases([name], create: create)[0]
    }

    /// Opens (and, when `create` and writable, creates) several named databases in one transaction, so that a
    /// process killed while creating a store leaves either all of them or none.
    public func databases(_ names: [String], create: Bool = true) throws -> [Database?] {
        try core.databases.withLock { cache throws -> [Database?] in  // also serialises mdb_dbi_open
            if names.allSatisfy({ cache[$0] != nil }) { return names.map { cache[$0] } }
            let create = create && !options.readOnly
            mapLock.lockShared()
            defer { mapLock.unlock() }
            var txn: OpaquePointer?
            try call("mdb_txn_begin") { mdb_txn_begin(env, nil, create ? 0 : UInt32(MDB_RDONLY), &txn) }
            var opened: [Database?] = []
            for name in names {
                if let db = cache[name] { opened.append(db); continue }
                var dbi: MDB_dbi = 0
                let rc = mdb_dbi_open(txn, name, create ? UInt32(MDB_CREATE) : 0, &dbi)
                if rc == MDB_NOTFOUND { opened.append(nil); continue }
                if rc != 0 {
                    mdb_txn_abort(txn)
                    throw LMDBError(
                        code: .init(rawValue: rc), operation: "mdb_dbi_open", database: name, path: path,
                        hint: Environment.hint(for: rc))
                }
                opened.append(Database(dbi: dbi, name: name))
            }
            try Environment.check(
                mdb_txn_commit(txn), "mdb_txn_commit", database: names.joined(separator: ","), path: path)
            for db in opened.compactMap({ $0 }) { cache[db.name] = db }
            return opened
        }
    }

    /// Opens an existing named database or throws a `notFound` error naming it.
    public func existingDatabase(_ name: String) throws -> Database {
        guard let db = try database(name, create: false) else {
            throw LMDBError(
                code: .notFound, operation: "mdb_dbi_open", database: name, path: path,
                hint: "the store has no database '\(name)'")
        }
        return db
    }
}
