internal import CLMDB

/// An ordered position in a database, lent to the closure of `Transaction.withCursor`.
///
/// Moves return `false` when there is no entry in that direction. `key` and `value` lend the current entry's
/// bytes, valid until the next move and never beyond the closure.
public struct Cursor: ~Copyable {
    let cursor: OpaquePointer
    let environment: Environment
    let db: Database
    private var k = MDB_val()
    private var v = MDB_val()
    public private(set) var isPositioned = false

    init(cursor: OpaquePointer, environment: Environment, db: Database) {
        self.cursor = cursor
        self.environment = environment
        self.db = db
    }

    /// The current key (precondition: positioned).
    public var key: UnsafeRawBufferPointer {
        precondition(isPositioned, "cursor is not positioned")
        return UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size)
    }

    /// The current value (precondition: positioned).
    public var value: UnsafeRawBufferPointer {
        precondition(isPositioned, "cursor is not positioned")
        return UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)
    }

    private mutating func move(_ op: MDB_cursor_op) throws(LMDBError) -> Bool {
        var rc: Int32 = 0
        var kk = k, vv = v
        try environment.call("mdb_cursor_get", db) {
            rc = mdb_cursor_get(cursor, &kk, &vv, op)
            return rc == MDB_NOTFOUND ? 0 : rc
        }
        if rc == 0 { k = kk; v = vv }
        isPositioned = rc == 0
        return isPositioned
    }

    /// Moves to the first entry. - Complexity: `mdb_cursor_get(MDB_FIRST)`.
    public mutating func first() throws -> Bool { try move(MDB_FIRST) }
    /// Moves to the last entry.
    public mutating func last() throws -> Bool { try move(MDB_LAST) }
    /// Moves to the next entry (the first if not yet positioned).
    public mutating func next() throws -> Bool { try move(MDB_NEXT) }
    /// Moves to the previous entry (the last if not yet positioned).
    public mutating func previous() throws -> Bool { try move(MDB_PREV) }

    /// Moves to the first entry whose key is ≥ `key` (`MDB_SET_RANGE`).
    public mutating func seek<K: ByteView>(atLeast key: K) throws -> Bool {
        try key.withByteView { bytes throws(LMDBError) -> Bool in
            k = MDB_val(mv_size: bytes.count, mv_data: UnsafeMutableRawPointer(mutating: bytes.baseAddress))
            return try move(MDB_SET_RANGE)
        }
    }

    /// Moves to exactly `key` (`MDB_SET_KEY`); `false` if absent.
    public mutating func seek<K: ByteView>(exactly key: K) throws -> Bool {
        try key.withByteView { bytes throws(LMDBError) -> Bool in
            k = MDB_val(mv_size: bytes.count, mv_data: UnsafeMutableRawPointer(mutating: bytes.baseAddress))
            return try move(MDB_SET_KEY)
        }
    }

    /// Deletes the current entry (write transactions only); the cursor then stands on the next one.
    public mutating func deleteCurrent() throws {
        precondition(isPositioned, "cursor is not positioned")
        try environment.call("mdb_cursor_del", db) { mdb_cursor_del(cursor, 0) }
        // LMDB leaves the cursor on the following entry; re-read it.
        if !(try move(MDB_GET_CURRENT)) { isPositioned = false }
    }
}

/// What a scan closure asks for next.
public enum ScanControl: Sendable {
    case next, stop
}

extension Transaction {
    /// Opens a cursor on `db` for the duration of `body`.
    /// - Complexity: `mdb_cursor_open` / `mdb_cursor_close`.
    public func withCursor<R>(_ db: Database, _ body: (inout Cursor) throws -> R) throws -> R {
        var c: OpaquePointer?
        try environment.call("mdb_cursor_open", db) { mdb_cursor_open(txn, db.dbi, &c) }
        defer { mdb_cursor_close(c) }
        var cursor = Cursor(cursor: c!, environment: environment, db: db)
        return try body(&cursor)
    }

    /// Visits entries in key order with `lower ≤ key < upper` (either bound may be omitted), or in reverse
    /// order when `reverse` is true. Bounds use the database's comparator (`mdb_cmp`).
    ///
    /// - Returns: the number of entries visited.
    /// - Complexity: one `MDB_SET_RANGE` then one `MDB_NEXT`/`MDB_PREV` per entry.
    @discardableResult
    public func scan(
        _ db: Database, from lower: [UInt8]? = nil, to upper: [UInt8]? = nil, reverse: Bool = false,
        _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> ScanControl
    ) throws -> Int {
        try withCursor(db) { cursor in
            var visited = 0
            func inRange(_ key: UnsafeRawBufferPointer) -> Bool {
                if let lower, lower.withUnsafeBytes({ compare(db, key, $0) }) < 0 { return false }
                if let upper, upper.withUnsafeBytes({ compare(db, key, $0) }) >= 0 { return false }
                return true
            }
            var ok: Bool
            if !reverse {
                ok = try lower.map { try cursor.seek(atLeast: $0) } ?? cursor.first()
            } else if let upper {
                // Last key < upper: seek to ≥ upper, then step back (or start from the end).
                ok = try cursor.seek(atLeast: upper) ? cursor.previous() : cursor.last()
            } else {
                ok = try cursor.last()
            }
            while ok, inRange(cursor.key) {
                visited += 1
                if try body(cursor.key, cursor.value) == .stop { break }
                ok = try reverse ? cursor.previous() : cursor.next()
            }
            return visited
        }
    }

    /// Visits entries whose key starts with `prefix`, in key order.
    @discardableResult
    public func scan(
        _ db: Database, prefix: [UInt8],
        _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> ScanControl
    ) throws -> Int {
        try withCursor(db) { cursor in
            var visited = 0
            var ok = try cursor.seek(atLeast: prefix)
            while ok, cursor.key.starts(with: prefix) {
                visited += 1
                if try body(cursor.key, cursor.value) == .stop { break }
                ok = try cursor.next()
            }
            return visited
        }
    }
}
