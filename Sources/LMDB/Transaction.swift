internal import CLMDB

/// A read or write transaction, lent to the closure of `Environment.read` / `Environment.write`.
///
/// It is `~Copyable` and only ever borrowed, so it cannot escape its closure; neither can the bytes it lends.
public struct Transaction: ~Copyable {
    /// The copyable part the inlinable front-ends hand to their closures.
    @usableFromInline let raw: RawTransaction
    public let isReadOnly: Bool

    var txn: OpaquePointer { raw.txn }
    var environment: Environment { raw.environment }

    init(txn: OpaquePointer, environment: Environment, isReadOnly: Bool) {
        raw = RawTransaction(txn: txn, environment: environment)
        self.isReadOnly = isReadOnly
    }

    /// How `put` treats an existing key.
    @frozen public enum PutMode: Sendable {
        /// Replace the value.
        case overwrite
        /// Keep the existing value; `put` returns `false`.
        case noOverwrite
        /// `MDB_APPEND`: the key must sort after every key in the database (fast bulk loads of sorted
        /// keys); otherwise `put` throws `keyExists`.
        case append

        var flags: UInt32 {
            switch self {
            case .overwrite: 0
            case .noOverwrite: UInt32(MDB_NOOVERWRITE)
            case .append: UInt32(MDB_APPEND)
            }
        }
    }

    /// `mdb_txn_id`: a write transaction's id is the one `Environment.info.lastTransaction` shows once it has
    /// committed (until another write commits).
    public var id: Int { mdb_txn_id(txn) }

    // MARK: Reading

    /// Lends the value stored under `key` to `body`, zero-copy; `nil` if there is none.
    ///
    /// The bytes point into the memory map and are only 2-byte aligned: read numbers with the helpers of
    /// `UnsafeRawBufferPointer` in Bytes.swift and never let the pointer escape `body`.
    /// - Complexity: one `mdb_get`, O(log n) page visits.
    @inlinable
    public func get<K: ByteView, R>(_ db: Database, _ key: K, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R?
    {
        let raw = self.raw  // a local, not a capture list: a capture list boxes the context in debug builds
        guard let value = try key.withByteView({ k in try raw.lookup(db, k) }) else { return nil }
        return try body(value)
    }

    /// A copy of the value stored under `key`, or `nil`.
    public func get<K: ByteView>(_ db: Database, _ key: K) throws -> [UInt8]? {
        try get(db, key) { Array($0) }
    }

    /// Whether `key` is present.
    public func contains<K: ByteView>(_ db: Database, _ key: K) throws -> Bool {
        try get(db, key) { _ in () } != nil
    }

    /// Entry count and page usage of `db` (`mdb_stat`).
    public func stat(_ db: Database) throws -> Database.Stat {
        var s = MDB_stat()
        try environment.call("mdb_stat", db) { mdb_stat(txn, db.dbi, &s) }
        return Database.Stat(
            entries: s.ms_entries, depth: Int(s.ms_depth), pageSize: Int(s.ms_psize),
            branchPages: s.ms_branch_pages, leafPages: s.ms_leaf_pages,
            overflowPages: s.ms_overflow_pages)
    }

    /// The number of entries in `db`.
    public func count(_ db: Database) throws -> Int { try stat(db).entries }

    // MARK: Writing

    /// Stores `value` under `key`.
    /// - Returns: `false` when `mode` is `.noOverwrite` and the key already existed (nothing written).
    /// - Complexity: one `mdb_put`. Values over about 2 KB go to overflow pages.
    @inlinable @discardableResult
    public func put<K: ByteView, V: ByteView>(
        _ db: Database, _ key: K, _ value: V, mode: PutMode = .overwrite
    ) throws -> Bool {
        try key.withByteView { k in
            try value.withByteView { [raw] v throws(LMDBError) in try raw.store(db, k, v, mode: mode) }
        }
    }

    /// Reserves `count` bytes for `key` inside the database page and lets `fill` write them in place
    /// (`MDB_RESERVE`): no intermediate buffer for large records. `fill` must write every byte.
    @inlinable @discardableResult
    public func put<K: ByteView>(
        _ db: Database, _ key: K, reserving count: Int, mode: PutMode = .overwrite,
        _ fill: (UnsafeMutableRawBufferPointer) throws -> Void
    ) throws -> Bool {
        guard
            let space = try key.withByteView({ [raw] k throws(LMDBError) in
                try raw.reserve(db, k, count: count, mode: mode)
            })
        else { return false }
        try fill(space)
        return true
    }

    /// Deletes `key`. - Returns: whether it existed.
    @discardableResult
    public func delete<K: ByteView>(_ db: Database, _ key: K) throws -> Bool {
        let txn = self.txn, environment = self.environment
        return try key.withByteView { k throws(LMDBError) -> Bool in
            var kv = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
            var rc: Int32 = 0
            try environment.call("mdb_del", db) {
                rc = mdb_del(txn, db.dbi, &kv, nil)
                return rc == MDB_NOTFOUND ? 0 : rc
            }
            return rc == 0
        }
    }

    /// Deletes every entry of `db` (`mdb_drop` with del = 0); the database itself stays.
    public func clear(_ db: Database) throws {
        try environment.call("mdb_drop", db) { mdb_drop(txn, db.dbi, 0) }
    }

    /// Compares two keys with `db`'s comparator (`mdb_cmp`): negative, zero or positive.
    public func compare(_ db: Database, _ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        var av = MDB_val(mv_size: a.count, mv_data: UnsafeMutableRawPointer(mutating: a.baseAddress))
        var bv = MDB_val(mv_size: b.count, mv_data: UnsafeMutableRawPointer(mutating: b.baseAddress))
        return Int(mdb_cmp(txn, db.dbi, &av, &bv))
    }
}

/// The transaction handle itself; the non-generic cores of `get` and `put` live here so the generic,
/// inlinable front-ends specialise in the caller and cost no more than the C calls.
@usableFromInline
struct RawTransaction {
    let txn: OpaquePointer
    let environment: Environment

    /// The non-generic core of `get`: the value's bytes inside the map, or `nil`.
    @usableFromInline
    func lookup(_ db: Database, _ k: UnsafeRawBufferPointer) throws(LMDBError) -> UnsafeRawBufferPointer? {
        var kv = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
        var value = MDB_val()
        var rc: Int32 = 0
        try environment.call("mdb_get", db) {
            rc = mdb_get(txn, db.dbi, &kv, &value)
            return rc == MDB_NOTFOUND ? 0 : rc
        }
        return rc == 0 ? UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size) : nil
    }

    /// The non-generic core of `put`.
    @usableFromInline
    func store(
        _ db: Database, _ k: UnsafeRawBufferPointer, _ v: UnsafeRawBufferPointer, mode: Transaction.PutMode
    ) throws(LMDBError) -> Bool {
        var kv = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
        var vv = MDB_val(mv_size: v.count, mv_data: UnsafeMutableRawPointer(mutating: v.baseAddress))
        return try putValue(db, &kv, &vv, flags: mode.flags, mode: mode)
    }

    /// The non-generic core of `put(reserving:)`: the reserved bytes, or `nil` (`.noOverwrite`, key exists).
    @usableFromInline
    func reserve(
        _ db: Database, _ k: UnsafeRawBufferPointer, count: Int, mode: Transaction.PutMode
    ) throws(LMDBError) -> UnsafeMutableRawBufferPointer? {
        var kv = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
        var vv = MDB_val(mv_size: count, mv_data: nil)
        guard try putValue(db, &kv, &vv, flags: mode.flags | UInt32(MDB_RESERVE), mode: mode) else { return nil }
        return UnsafeMutableRawBufferPointer(start: vv.mv_data, count: count)
    }

    private func putValue(
        _ db: Database, _ k: inout MDB_val, _ v: inout MDB_val, flags: UInt32, mode: Transaction.PutMode
    ) throws(LMDBError) -> Bool {
        var rc: Int32 = 0
        try environment.call("mdb_put", db) {
            rc = mdb_put(txn, db.dbi, &k, &v, flags)
            return (rc == MDB_KEYEXIST && mode == .noOverwrite) ? 0 : rc
        }
        return rc == 0
    }
}
