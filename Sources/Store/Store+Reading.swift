import Errors
public import LMDB
public import Model

extension UserRecord.Precision {
    /// The `meta` spelling: `f32` or `f16`.
    public var name: String { self == .f32 ? "f32" : "f16" }
    public init?(name: String) {
        switch name {
        case "f32": self = .f32
        case "f16": self = .f16
        default: return nil
        }
    }
}

extension Store {
    /// A consistent read snapshot of the store (an LMDB read transaction). Hand it to the store's
    /// accessors; it lives only inside the `read` closure.
    package typealias Snapshot = Transaction

    /// The `meta` database as a typed value.
    public struct Meta: Sendable, Equatable {
        /// The entries that say what the store was made with: a writer refuses a store whose entries differ
        /// from its own.
        public static let identityKeys = ["format", "fingerprint", "m", "tau", "d", "window", "precision"]

        /// `lifelong.store.v3` for this build; an older store says so here.
        public var format: String?
        /// Hex SHA-256 of the model the store was encoded with.
        public var fingerprint: String?
        public var precision: UserRecord.Precision = .f32
        public var m: Int?, tau: Int?, d: Int?, window: Int?
        public var modelFolder: String?
        /// The next store item id to hand out.
        public var nextItemId: UInt32 = 0
        /// Every entry as stored (UTF-8 name → UTF-8 value).
        public var values: [String: String] = [:]

        public init(values: [String: String]) {
            self.values = values
            format = values["format"]
            fingerprint = values["fingerprint"]
            precision = values["precision"].flatMap(UserRecord.Precision.init(name:)) ?? .f32
            m = values["m"].flatMap { Int($0) }
            tau = values["tau"].flatMap { Int($0) }
            d = values["d"].flatMap { Int($0) }
            window = values["window"].flatMap { Int($0) }
            modelFolder = values["model_folder"]
            nextItemId = values["next_item_id"].flatMap { UInt32($0) } ?? 0
        }

        /// The meta of a new store encoded with `model` at `precision` (this build's format, no item yet).
        public init(for model: ModelBundle, precision: UserRecord.Precision) {
            let c = model.config
            self.init(values: [
                "format": Store.format, "fingerprint": model.fingerprintHex, "m": "\(c.m)", "tau": "\(c.tau)",
                "d": "\(c.d)", "window": "\(c.window)", "precision": precision.name, "model_folder": model.folder,
                "next_item_id": "0",
            ])
        }

        /// The first identity entry in which `self` (a store's meta) differs from `wanted`: its key, the stored
        /// value (nil when missing) and the wanted one; nil when the store was made as `wanted` says.
        public func firstDifference(from wanted: Meta) -> (key: String, stored: String?, wanted: String)? {
            for key in Self.identityKeys where values[key] != wanted.values[key] {
                return (key, values[key], wanted.values[key] ?? "missing")
            }
            return nil
        }
    }

    /// Writes every entry of `meta` (a new store's, in the writer's transaction).
    package func write(_ meta: Meta, _ txn: borrowing Transaction) throws {
        for (k, v) in meta.values.sorted(by: { $0.key < $1.key }) { try txn.put(metaDatabase, k, v) }
    }

    /// The `meta` database, read in one snapshot.
    public func meta() throws -> Meta { Meta(values: try metaValues()) }

    /// Reader slots this process cleared when it opened the store: left by processes killed inside a read.
    package var staleReadersCleared: Int { environment.staleReadersCleared }

    /// Runs `body` on one read snapshot: everything it reads is from the same committed state.
    package func read<R>(_ body: (borrowing Snapshot) throws -> R) throws -> R { try environment.read(body) }

    /// The store folder.
    public var path: String { environment.path }

    /// `user`'s record, read in place (zero-copy: `body` must not keep the bytes); nil for a user not in the
    /// store. The view's header checks (magic, version, sizes) are done; a failure is `LifelongError`
    /// `.damagedRecord` naming the user.
    package func withUserRecord<R>(
        _ snapshot: borrowing Snapshot, user: String,
        _ body: (UserRecord.View) throws -> R
    ) throws -> R? {
        try snapshot.get(users, user) { bytes in
            let view: UserRecord.View
            do { view = try UserRecord.View(bytes) } catch {
                throw LifelongError(.damaged, message: "store \(path): user '\(user)': \(error)")
            }
            return try body(view)
        }
    }

    /// `user`'s record, decoded and verified (checksum included); nil for a user not in the store.
    package func userRecord(_ snapshot: borrowing Snapshot, user: String) throws -> UserRecord? {
        try snapshot.get(users, user) { bytes in
            do { return try UserRecord(decoding: bytes) } catch {
                throw LifelongError(.damaged, message: "store \(path): user '\(user)': \(error)")
            }
        }
    }

    /// One `sequences` value read in place: up to `chunkCapacity` entries.
    package struct SequenceChunk {
        package let bytes: UnsafeRawBufferPointer
        package var count: Int { bytes.count / Store.sequenceEntrySize }
        @inlinable package subscript(_ e: Int) -> SequenceEntry { Store.sequenceEntry(bytes, e) }
    }

    /// Every chunk of `user`'s sequence in order (zero-copy; `body` must not keep a chunk).
    package func forEachSequenceChunk(
        _ snapshot: borrowing Snapshot, user: String,
        _ body: (SequenceChunk) throws -> Void
    ) throws {
        try snapshot.scan(sequences, prefix: Self.sequencePrefix(user: user)) { _, v in
            try body(SequenceChunk(bytes: v))
            return .next
        }
    }

    /// The item record of a raw item id; nil when the store has none. A damaged record throws.
    package func itemRecord(_ snapshot: borrowing Snapshot, item: String) throws -> ItemRecord? {
        try snapshot.get(items, item) { try ItemRecord(decoding: $0) }
    }

    /// How many users and items the store holds (two B-tree stats, no scan).
    package func counts(_ snapshot: borrowing Snapshot) throws -> (users: Int, items: Int) {
        (try snapshot.count(users), try snapshot.count(items))
    }

    /// The raw item id of a store item id; nil when unknown.
    package func itemId(_ snapshot: borrowing Snapshot, storeId: UInt32) throws -> String? {
        try snapshot.get(itemIds, storeId) { String(decoding: $0, as: UTF8.self) }
    }

    /// Every user id and its history length (the record's L and the pending tail), in byte order (one scan of
    /// `users`, records not decoded, and the sequence chunks from L on).
    package func forEachUser(_ snapshot: borrowing Snapshot, _ body: (String, UInt64) throws -> Void) throws {
        try snapshot.scan(users) { k, v in
            // L is the u64 at offset 24 (UserRecord's layout).
            let covered = v.count >= UserRecord.headerSize ? v.littleEndian(UInt64.self, at: 24) : 0
            let user = String(decoding: k, as: UTF8.self)
            let tail = try sequenceTailLength(snapshot, user: user, from: Int(clamping: covered))
            try body(user, covered + UInt64(tail))
            return .next
        }
    }

    /// Every item record in raw-id byte order.
    package func forEachItem(_ snapshot: borrowing Snapshot, _ body: (String, ItemRecord) throws -> Void) throws {
        try snapshot.scan(items) { k, v in
            try body(String(decoding: k, as: UTF8.self), try ItemRecord(decoding: v))
            return .next
        }
    }

    /// The `sequences` key prefix of one user: the user id and a 0 byte (chunk keys append the chunk index).
    package static func sequencePrefix(user: String) -> [UInt8] {
        var k = Array(user.utf8)
        k.append(0)
        return k
    }
}

extension Store {
    /// What `lifelong inspect` prints of a store: its size and the meta that says what it was made with.
    public struct Summary: Codable, Sendable, Equatable {
        public var users: Int, behaviors: Int, items: Int
        /// Bytes of the databases' pages (LMDB's own accounting, not the file size).
        public var bytes: Int
        public var format: String, fingerprint: String, precision: String
        public var m: Int?, tau: Int?, d: Int?, window: Int?
        /// Each ingested source's committed offset (`lifelong ingest`); nil when the value is damaged.
        public var sources: [String: Int64?] = [:]
    }

    /// The store's summary, read in one snapshot.
    /// - Complexity: one scan of `users` (records not decoded) and five B-tree stats.
    public func summary() throws -> Summary {
        let meta = try meta()
        return try read { snapshot in
            var behaviors: UInt64 = 0, bytes = 0
            try forEachUser(snapshot) { _, length in behaviors += length }
            for db in [metaDatabase, items, itemIds, users, sequences] { bytes += try snapshot.stat(db).bytes }
            let (users, items) = try counts(snapshot)
            return Summary(
                users: users, behaviors: Int(behaviors), items: items, bytes: bytes, format: meta.format ?? "?",
                fingerprint: meta.fingerprint ?? "?", precision: meta.values["precision"] ?? "?", m: meta.m,
                tau: meta.tau, d: meta.d, window: meta.window,
                sources: meta.values.reduce(into: [:]) { out, entry in
                    guard entry.key.hasPrefix(Store.sourcePrefix) else { return }
                    out[String(entry.key.dropFirst(Store.sourcePrefix.count))] = Store.parseSourceOffset(
                        entry.value.utf8)
                })
        }
    }
}
