import Tensors
import TextAtoms
public import BehaviorLog
public import Errors
import Foundation
import LMDB
public import Model
public import Store
public import TextEncoder

/// The offline BSE job: behavior logs → the store's bucket sums, counts, windows and sequences.
///
/// Every distinct item is embedded and hashed once per run (BAHE: cost ∝ distinct atoms, not behaviors);
/// items already in the store under the same model are reused. All input is parsed and checked before the
/// first write, so bad input leaves the store exactly as it was.
public final class BehaviorEncoder {
    public let model: ModelBundle
    public let store: Store
    public let precision: UserRecord.Precision
    /// The text atom encoder, for a bundle with a text projection (`text_layers` layers of it are run).
    public let textModel: MiniLM?

    public struct Report: Sendable, CustomStringConvertible {
        public var users = 0
        public var behaviors = 0
        /// Distinct items embedded and hashed in this run.
        public var itemsEmbedded = 0
        /// Distinct items found in the store already (same model).
        public var itemsReused = 0
        /// Distinct item texts embedded by the text model in this run, and found in the store's `texts` cache.
        public var textsComputed = 0, textsFound = 0
        /// `append` only: users skipped because their stored sequence already ends with this input's behaviors.
        public var usersAlreadyAppended = 0
        public var seconds = 0.0
        /// Where the time went: grouping and ordering the log by user; embedding and hashing the distinct
        /// items (one BLAS product) and writing their records; aggregating and writing the users.
        public var groupingSeconds = 0.0, itemsSeconds = 0.0, usersSeconds = 0.0
        public var description: String {
            "\(users) users, \(behaviors) behaviors, \(itemsEmbedded) item embeddings computed, \(itemsReused) reused, "
                + (textsComputed + textsFound > 0
                    ? "\(textsComputed) text embeddings computed, \(textsFound) found in the cache, " : "")
                + (usersAlreadyAppended > 0 ? "\(usersAlreadyAppended) users already appended (skipped), " : "")
                + String(format: "%.2f s", seconds)
        }
    }

    /// Called with (users done, users total, behaviors done).
    public typealias Progress = (Int, Int, Int) -> Void

    /// Why an encode or an append refused its input or its store; nothing was written.
    /// `invalidArgument`: a behavior or id the store cannot take (a key too long, an append older than the
    /// user's last), or a text model that is missing or does not fit the bundle; `modelMismatch`: the store
    /// was written with another model, precision or format; `damaged`: a record in the store is damaged, or
    /// the store lacks a database.
    public struct EncodeError: LifelongError {
        public let kind: ErrorKind
        public let message: String
        public init(_ kind: ErrorKind, message: String) {
            self.kind = kind
            self.message = message
        }
    }

    /// Opens the encoder; a store that already exists must have been written with the same model and
    /// precision (its `meta` is checked), a new one gets its `meta` written.
    /// - Parameter textModel: required when the bundle has a text projection (`d_text > 0`): the text model
    ///   its `text_layers` metadata refers to (all-MiniLM-L6-v2).
    public init(
        model: ModelBundle, store: Store, precision: UserRecord.Precision = .f32, textModel: MiniLM? = nil
    ) throws {
        if model.config.dText > 0 {
            guard let textModel else {
                throw EncodeError(
                    .invalidArgument,
                    message:
                        "\(model.folder): the bundle has a text projection (d_text = \(model.config.dText)); give "
                        + "the text model folder (--text-model DIR)"
                )
            }
            guard let k = model.config.textLayers, (0...textModel.config.layers).contains(k) else {
                throw EncodeError(
                    .invalidArgument,
                    message:
                        "\(model.folder): the bundle has a text projection but its metadata 'text_layers' is "
                        + "\(model.config.textLayers.map(String.init) ?? "missing") (0…\(textModel.config.layers))"
                )
            }
        }
        self.model = model
        self.store = store
        self.precision = precision
        self.textModel = model.config.dText > 0 ? textModel : nil
        let want = Store.Meta(for: model, precision: precision)
        let have = try store.meta()
        if have.format == nil {
            try store.environment.write { txn in try store.write(want, txn) }
        } else if let (key, stored, wanted) = have.firstDifference(from: want) {
            throw EncodeError(
                .modelMismatch,
                message: "store \(store.path): meta '\(key)' is \(stored ?? "missing"), but this run needs \(wanted) "
                    + "(store fingerprint \(have.fingerprint ?? "?"), model fingerprint \(model.fingerprintHex)); "
                    + "encode into a new store folder")
        }
    }

    // MARK: Users

    /// Behaviors grouped by user, each group in (timestamp, item id) order; users in UTF-8 byte order.
    static func grouped(_ behaviors: [Behavior], shard: (index: Int, count: Int)?) -> [(String, [Behavior])] {
        var groups: [String: [Behavior]] = [:]
        for b in behaviors {
            if let shard, ShardManifest.shard(of: b.user, count: shard.count) != shard.index { continue }
            groups[b.user, default: []].append(b)
        }
        return groups.map { ($0.key, $0.value.sorted(by: Behavior.precedes)) }
            .sorted { $0.0.precedesInByteOrder($1.0) }
    }

    private func validateIds(_ data: Dataset) throws {
        for b in data.behaviors {
            if let reason = Self.invalidity(user: b.user, item: b.item, timestamp: b.timestamp) {
                throw EncodeError(.invalidArgument, message: reason)
            }
        }
    }

    /// Why a behavior cannot be stored whatever the store holds (an id the store cannot key, a timestamp that
    /// is not finite), or nil.
    static func invalidity(user: String, item: String, timestamp: Double) -> String? {
        func invalid(_ what: String, _ id: String) -> String {
            "\(what) id '\(id.prefix(64))\(id.utf8.count > 64 ? "…" : "")' is empty, contains a NUL byte or is "
                + "longer than \(Store.maxIdBytes) bytes (the store's key limit)"
        }
        guard Store.isValidId(user) else { return invalid("user", user) }
        guard Store.isValidId(item) else { return invalid("item", item) }
        guard timestamp.isFinite else { return "user '\(user)': timestamp \(timestamp) is not a finite number" }
        return nil
    }

    /// Encodes every user of `data` from scratch (replacing users already in the store), `batch` users per
    /// write transaction.
    public func encode(
        _ data: Dataset, shard: (index: Int, count: Int)? = nil, batch: Int = 256, progress: Progress? = nil
    ) throws -> Report {
        let start = Date()
        try validateIds(data)
        var report = Report()
        let groups = Self.grouped(data.behaviors, shard: shard)
        report.groupingSeconds = Date().timeIntervalSince(start)
        try writeUsers(
            groups, catalog: data.items, batch: batch, progress: progress, report: &report, existing: [], replace: true
        )
        report.users = groups.count
        report.seconds = Date().timeIntervalSince(start)
        return report
    }

    /// Appends new behaviors to existing users (or creates them) without re-reading their history:
    /// O(n_sig · d) per behavior plus the last sequence chunk. A behavior older than the user's stored last
    /// timestamp rejects the whole input before anything is written.
    public func append(_ data: Dataset, batch: Int = 256, progress: Progress? = nil) throws -> Report {
        let start = Date()
        try validateIds(data)
        var groups = Self.grouped(data.behaviors, shard: nil)
        let grouped = Date()
        var existing: [String: UserRecord] = [:]
        var applied = Set<String>()
        try store.environment.read { txn in
            for (user, behaviors) in groups {
                guard let record = try storedRecord(txn, user) else { continue }
                if let first = behaviors.first, first.timestamp <= record.lastTimestamp,
                    try sequence(txn, user, length: Int(record.length), endsWith: behaviors)
                {
                    applied.insert(user)  // an earlier run of this append got this far
                    continue
                }
                if let first = behaviors.first, first.timestamp < record.lastTimestamp {
                    throw EncodeError(
                        .invalidArgument,
                        message:
                            "user '\(user)': behavior (item '\(first.item)', timestamp "
                            + "\(Behavior.text(ofTimestamp: first.timestamp))) is older than the stored last "
                            + "timestamp \(Behavior.text(ofTimestamp: record.lastTimestamp)); nothing was "
                            + "appended"
                    )
                }
                existing[user] = record
            }
        }
        groups.removeAll { applied.contains($0.0) }
        var report = Report()
        report.usersAlreadyAppended = applied.count
        report.groupingSeconds = grouped.timeIntervalSince(start)
        try writeUsers(
            groups, catalog: data.items, batch: batch, progress: progress, report: &report,
            existing: groups.map { existing[$0.0] },
            replace: false)
        report.users = groups.count
        report.seconds = Date().timeIntervalSince(start)
        return report
    }

    /// The user's stored record, if any, for appending to: one that does not decode is `damaged` (naming
    /// the store and the user), one of another model a `modelMismatch`.
    func storedRecord(_ txn: borrowing Transaction, _ user: String) throws -> UserRecord? {
        guard let r = try txn.get(store.users, user, { bytes in Result { try UserRecord(decoding: bytes) } }) else {
            return nil
        }
        let record = try r.mapError {
            EncodeError(.damaged, message: "store \(store.environment.path): user '\(user)': \($0)")
        }.get()
        guard record.fingerprint == model.fingerprint else {
            throw EncodeError(
                .modelMismatch, message: "user '\(user)' was encoded with another model; re-encode the store")
        }
        return record
    }

    /// Whether the user's stored sequence (`length` behaviors) ends with exactly `behaviors` (same item ids,
    /// timestamps and feedback): then an earlier run of the same append already wrote them, and the user is skipped.
    /// That makes an interrupted `append` safe to run again.
    private func sequence(
        _ txn: borrowing Transaction, _ user: String, length: Int, endsWith behaviors: [Behavior]
    ) throws -> Bool {
        let n = behaviors.count
        guard length >= n, n > 0, let tail = try store.sequenceEntries(txn, user: user, (length - n)..<length) else {
            return false
        }
        for (entry, b) in zip(tail, behaviors) {
            guard entry.timestamp == b.timestamp, entry.feedback == Feedback(b.label).rawValue,
                let raw = try txn.get(store.itemIds, entry.item, { String(decoding: $0, as: UTF8.self) }), raw == b.item
            else { return false }
        }
        return true
    }

    /// Resolves the groups' items, then writes the users `batch` per write transaction: each user's record
    /// starts from `existing[k]` for group k (or empty) and gets its behaviors appended; with `replace`, the
    /// user's old sequence is deleted first (a fresh encode). `itemOrder`: items whose new store ids follow
    /// this order (a batch append's arrival order) rather than the byte order of their ids.
    func writeUsers(
        _ groups: [(String, [Behavior])], catalog: [String: ItemInfo], batch: Int, progress: Progress?,
        report: inout Report, existing: [UserRecord?], replace: Bool, itemOrder: [String] = [],
        lastTransaction: ((borrowing Transaction) throws -> Void)? = nil
    ) throws {
        let itemsStart = Date()
        // One pass gives every distinct item a run-local index and every behavior its item's index: the only
        // hashing of an item id per behavior in the whole run. Catalog items are resolved too, so the store
        // knows every item's category when it is a candidate.
        var interner = Interner(capacity: catalog.count)
        for id in itemOrder { _ = interner.index(of: id) }
        var rows: [Int] = []
        rows.reserveCapacity(groups.reduce(0) { $0 + $1.1.count })
        for (_, behaviors) in groups {
            for b in behaviors { rows.append(interner.index(of: b.item)) }
        }
        for id in catalog.keys where !id.isEmpty && id.utf8.count <= 400 { _ = interner.index(of: id) }
        let items = try resolveItems(
            interner.ids, catalog: catalog, report: &report, newIdsInGivenOrder: !itemOrder.isEmpty)
        let c = model.config
        // What the buckets add: behavior j is row `atomRows[j]` of the behavior table — its item's row in v1, its
        // (item, feedback) row in v2 (docs/MODEL.md).
        let table = model.behaviorTable(
            vectors: items.vectors, signatures: items.signatures, count: items.storeIds.count)
        let atomRows = c.feedback ? Self.feedbackRows(groups, rows, table) : rows
        report.itemsSeconds = Date().timeIntervalSince(itemsStart)
        let usersStart = Date()
        defer { report.usersSeconds = Date().timeIntervalSince(usersStart) }
        var done = 0
        var first = 0  // where the current user's behaviors start in `rows`
        for chunk in stride(from: 0, to: groups.count, by: max(batch, 1)) {
            let slice = groups[chunk..<min(chunk + max(batch, 1), groups.count)]
            let sliceFirst = first
            try store.environment.write { txn in
                // `write` runs this again after growing a full map: start the slice over.
                first = sliceFirst
                for (k, (user, behaviors)) in zip(slice.indices, slice) {
                    var record =
                        (k < existing.count ? existing[k] : nil)
                        ?? UserRecord(
                            nSig: c.signatures, buckets: c.buckets, d: c.d, windowCapacity: c.window,
                            fingerprint: model.fingerprint)
                    let before = record.length
                    let userRows = rows[first..<(first + behaviors.count)]
                    table.vectors.withUnsafeBufferPointer { v in
                        table.signatures.withUnsafeBufferPointer { s in
                            atomRows[first..<(first + behaviors.count)].withUnsafeBufferPointer { r in
                                record.append(
                                    count: r.count, vectors: v.baseAddress!, signatures: s.baseAddress!,
                                    rows: r.baseAddress!,
                                    timestamp: behaviors.last!.timestamp
                                ) { j in
                                    let i = userRows[userRows.startIndex + j]
                                    return .init(
                                        item: items.storeIds[i], itemRow: items.itemRows[i],
                                        categoryRow: items.categoryRows[i],
                                        feedback: Feedback(behaviors[j].label).rawValue)
                                }
                            }
                        }
                    }
                    first += behaviors.count
                    try writeUser(txn, user, record)
                    if replace { try deleteSequence(txn, user) }
                    try appendSequence(txn, user, from: before, behaviors, userRows, items)
                }
                if chunk + max(batch, 1) >= groups.count { try lastTransaction?(txn) }
            }
            done += slice.count
            report.behaviors += slice.reduce(0) { $0 + $1.1.count }
            progress?(done, groups.count, report.behaviors)
        }
    }

    /// Behavior j's row of the v2 behavior table: its item's row and its feedback.
    private static func feedbackRows(_ groups: [(String, [Behavior])], _ rows: [Int], _ table: BehaviorTable) -> [Int] {
        var out = rows, j = 0
        for (_, behaviors) in groups {
            for b in behaviors {
                out[j] = table.row(item: rows[j], feedback: Feedback(b.label).rawValue)
                j += 1
            }
        }
        return out
    }

    private func writeUser(_ txn: borrowing Transaction, _ user: String, _ record: UserRecord) throws {
        let size = record.encodedSize(precision: precision)
        try txn.put(store.users, user, reserving: size) { record.encode(precision: precision, into: $0) }
    }

    private func deleteSequence(_ txn: borrowing Transaction, _ user: String) throws {
        let prefix = Store.sequencePrefix(user: user)
        var keys: [[UInt8]] = []
        try txn.scan(store.sequences, prefix: prefix) { k, _ in
            keys.append(Array(k)); return .next
        }
        for k in keys { try txn.delete(store.sequences, k) }
    }

    /// Appends (store item id, timestamp, feedback) entries to the user's sequence, whose length before is `length`:
    /// only the last, partly filled chunk is rewritten.
    private func appendSequence(
        _ txn: borrowing Transaction, _ user: String, from length: UInt64, _ behaviors: [Behavior],
        _ rows: ArraySlice<Int>, _ items: ResolvedItems
    ) throws {
        let cap = Store.chunkCapacity, entry = Store.sequenceEntrySize
        var position = Int(length)
        var next = 0
        while next < behaviors.count {
            let chunk = UInt32(position / cap)
            let key = Store.chunkKey(user: user, chunk: chunk)
            let old = try txn.get(store.sequences, key) ?? []
            let take = min(cap - position % cap, behaviors.count - next)
            try txn.put(store.sequences, key, reserving: old.count + take * entry) { out in
                out.copyBytes(from: old)
                let first = old.count / entry
                for k in 0..<take {
                    let b = behaviors[next + k]
                    Store.storeSequenceEntry(
                        .init(
                            item: items.storeIds[rows[rows.startIndex + next + k]], timestamp: b.timestamp,
                            feedback: Feedback(b.label).rawValue), into: out, at: first + k)
                }
            }
            position += take
            next += take
        }
    }
}
