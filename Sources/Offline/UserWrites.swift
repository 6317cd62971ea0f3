import BehaviorLog
import Errors
import Foundation
import LMDB
import Model
import Store

/// How users are written: the record (bucket sums, counts, window over the first L behaviors) and the sequence,
/// with the pending tail of docs/FORMATS.md — event appends touch only the sequence's last chunk until the tail
/// reaches `Store.foldEvery`; bulk writes fold everything.
extension BehaviorEncoder {
    /// A user already in the store, as a write sees it: the record's header and the sequence's end.
    struct StoredUser {
        /// The record's L: the behaviors its sums, counts and window cover.
        var covered: Int
        /// Behaviors in the sequence: the record's L and the pending tail.
        var length: Int
        /// The sequence's last behavior.
        var last: Store.SequenceEntry?
        var pending: Int { length - covered }
        var lastTimestamp: Double { last?.timestamp ?? -.infinity }
    }

    /// One user's write: the stored state, the new behaviors, and how many of the pending ones (the stored tail
    /// `tail`, then `behaviors`) the record takes.
    struct UserWrite {
        var user: String
        var stored: StoredUser?
        /// The stored tail as behaviors, when this write folds it (empty otherwise).
        var tail: [Behavior] = []
        var behaviors: [Behavior]
        /// How many of `tail + behaviors` the record takes (all of the tail, or none of it).
        var fold: Int

        /// A bulk write (`encode`, `append --data`): the record takes everything.
        static func bulk(_ user: String, _ stored: StoredUser?, tail: [Behavior], _ behaviors: [Behavior]) -> Self {
            UserWrite(user: user, stored: stored, tail: tail, behaviors: behaviors, fold: tail.count + behaviors.count)
        }
    }

    /// The user's stored record header with its sequence length and last behavior (the record is not decoded:
    /// a write that folds decodes and checks it); nil for a new user. One of another model is a
    /// `modelMismatch`, one whose header does not decode `damaged`.
    func storedUser(_ txn: borrowing Transaction, _ user: String) throws -> StoredUser? {
        let header = try txn.get(store.users, user) { bytes in
            Result { () throws -> (Int, Bool) in
                let view = try UserRecord.View(bytes)
                return (Int(view.length), view.hasFingerprint(model.fingerprint))
            }
        }
        guard let header else { return nil }
        let (covered, sameModel) = try header.mapError(damaged(user)).get()
        guard sameModel else { throw mismatch(user) }
        // From the record's last behavior on: one pass gives the tail's length and the sequence's last entry.
        var last: Store.SequenceEntry?
        let from = max(covered - 1, 0)
        let visited = try store.forEachSequenceEntry(txn, user: user, from: from) { last = $0 }
        guard covered == 0 || visited > 0 else {
            throw LifelongError(
                .damaged,
                message: "store \(store.path): user '\(user)': the record covers \(covered) behaviors, the "
                    + "sequence has fewer")
        }
        return StoredUser(covered: covered, length: from + visited, last: last)
    }

    /// The user's stored record, decoded and checked (checksum included), for a write that folds into it.
    func storedRecord(_ txn: borrowing Transaction, _ user: String) throws -> UserRecord? {
        guard let r = try txn.get(store.users, user, { bytes in Result { try UserRecord(decoding: bytes) } }) else {
            return nil
        }
        let record = try r.mapError(damaged(user)).get()
        guard record.fingerprint == model.fingerprint else { throw mismatch(user) }
        return record
    }

    private func damaged(_ user: String) -> (any Error) -> LifelongError {
        let path = store.environment.path
        return { LifelongError(.damaged, message: "store \(path): user '\(user)': \($0)") }
    }

    private func mismatch(_ user: String) -> LifelongError {
        LifelongError(.modelMismatch, message: "user '\(user)' was encoded with another model; re-encode the store")
    }

    /// The stored tail of `user` as behaviors (raw item ids from `item_ids`), for a write that folds it.
    func tailBehaviors(_ txn: borrowing Transaction, _ user: String, _ stored: StoredUser) throws -> [Behavior] {
        var out: [Behavior] = []
        var missing: UInt32?
        try store.forEachSequenceEntry(txn, user: user, from: stored.covered) { e in
            guard let raw = try store.itemId(txn, storeId: e.item) else { missing = e.item; return }
            out.append(
                Behavior(user: user, item: raw, timestamp: e.timestamp, label: Feedback(rawValue: e.feedback)?.label))
        }
        if let missing {
            throw LifelongError(
                .damaged,
                message: "store \(store.path): user '\(user)': the sequence names store item \(missing), which has "
                    + "no item record")
        }
        return out
    }

    /// Resolves the writes' items, then writes the users `batch` per write transaction: each record starts from
    /// the stored one (or empty) and takes its `fold` behaviors; a record that takes none and exists already is
    /// not rewritten. The new behaviors go to the end of the sequence; with `replace`, the user's old sequence
    /// is deleted first (a fresh encode). `itemOrder`: items whose new store ids follow this order (a batch
    /// append's arrival order) rather than the byte order of their ids.
    func writeUsers(
        _ writes: [UserWrite], catalog: [String: ItemInfo], batch: Int, progress: Progress?,
        report: inout Report, replace: Bool, itemOrder: [String] = [],
        lastTransaction: ((borrowing Transaction) throws -> Void)? = nil
    ) throws {
        let itemsStart = Date()
        // One pass gives every distinct item a run-local index and every behavior its item's index: the only
        // hashing of an item id per behavior in the whole run. Catalog items are resolved too, so the store
        // knows every item's category when it is a candidate.
        var interner = Interner(capacity: catalog.count)
        for id in itemOrder { _ = interner.index(of: id) }
        var rows: [Int] = []
        rows.reserveCapacity(writes.reduce(0) { $0 + $1.tail.count + $1.behaviors.count })
        for w in writes {
            for b in w.tail { rows.append(interner.index(of: b.item)) }
            for b in w.behaviors { rows.append(interner.index(of: b.item)) }
        }
        for id in catalog.keys where !id.isEmpty && id.utf8.count <= 400 { _ = interner.index(of: id) }
        let items = try resolveItems(
            interner.ids, catalog: catalog, report: &report, newIdsInGivenOrder: !itemOrder.isEmpty)
        // What the buckets add: behavior j is row `atomRows[j]` of the behavior table — its item's row in v1, its
        // (item, feedback) row in v2 (docs/MODEL.md).
        let table = model.behaviorTable(
            vectors: items.vectors, signatures: items.signatures, count: items.storeIds.count)
        let atomRows = model.config.feedback ? Self.feedbackRows(writes, rows, table) : rows
        report.itemsSeconds = Date().timeIntervalSince(itemsStart)
        let usersStart = Date()
        defer { report.usersSeconds = Date().timeIntervalSince(usersStart) }
        var done = 0, committed = -1
        var first = 0  // where the current user's rows start in `rows`
        for chunk in stride(from: 0, to: writes.count, by: max(batch, 1)) {
            let slice = writes[chunk..<min(chunk + max(batch, 1), writes.count)]
            let sliceFirst = first
            try store.environment.write { txn in
                // `write` runs this again after growing a full map: start the slice over.
                first = sliceFirst
                for w in slice {
                    let n = w.tail.count + w.behaviors.count
                    let userRows = rows[first..<(first + n)]
                    if w.fold > 0 || w.stored == nil {
                        let stored = w.stored == nil ? nil : try storedRecord(txn, w.user)
                        let record = fold(w, into: stored, userRows, atomRows[first..<(first + n)], table, items)
                        try writeRecord(txn, w.user, record)
                    }
                    if replace { try deleteSequence(txn, w.user) }
                    try appendSequence(
                        txn, w.user, from: w.stored?.length ?? 0, w.behaviors, userRows.dropFirst(w.tail.count), items)
                    first += n
                }
                if chunk + max(batch, 1) >= writes.count { try lastTransaction?(txn) }
                committed = txn.id
            }
            itemCache.validAt = committed  // this encoder's own write: its cached items stay valid
            done += slice.count
            report.behaviors += slice.reduce(0) { $0 + $1.behaviors.count }
            progress?(done, writes.count, report.behaviors)
        }
    }

    /// The user's record (`stored`, or a new one) with the first `w.fold` of its pending behaviors added.
    private func fold(
        _ w: UserWrite, into stored: UserRecord?, _ rows: ArraySlice<Int>, _ atomRows: ArraySlice<Int>,
        _ table: BehaviorTable, _ items: ResolvedItems
    ) -> UserRecord {
        let c = model.config
        var record =
            stored
            ?? UserRecord(
                nSig: c.signatures, buckets: c.buckets, d: c.d, windowCapacity: c.window, fingerprint: model.fingerprint
            )
        guard w.fold > 0 else { return record }
        let behavior = { (j: Int) in j < w.tail.count ? w.tail[j] : w.behaviors[j - w.tail.count] }
        table.vectors.withUnsafeBufferPointer { v in
            table.signatures.withUnsafeBufferPointer { s in
                atomRows.prefix(w.fold).withUnsafeBufferPointer { r in
                    record.append(
                        count: r.count, vectors: v.baseAddress!, signatures: s.baseAddress!, rows: r.baseAddress!,
                        timestamp: behavior(w.fold - 1).timestamp
                    ) { j in
                        let i = rows[rows.startIndex + j]
                        return .init(
                            item: items.storeIds[i], itemRow: items.itemRows[i], categoryRow: items.categoryRows[i],
                            feedback: Feedback(behavior(j).label).rawValue)
                    }
                }
            }
        }
        return record
    }

    /// Behavior j's row of the v2 behavior table: its item's row and its feedback.
    private static func feedbackRows(_ writes: [UserWrite], _ rows: [Int], _ table: BehaviorTable) -> [Int] {
        var out = rows, j = 0
        func take(_ behaviors: [Behavior]) {
            for b in behaviors {
                out[j] = table.row(item: rows[j], feedback: Feedback(b.label).rawValue)
                j += 1
            }
        }
        for w in writes {
            take(w.tail)
            take(w.behaviors)
        }
        return out
    }

    private func writeRecord(_ txn: borrowing Transaction, _ user: String, _ record: UserRecord) throws {
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
        _ txn: borrowing Transaction, _ user: String, from length: Int, _ behaviors: [Behavior],
        _ rows: ArraySlice<Int>, _ items: ResolvedItems
    ) throws {
        let cap = Store.chunkCapacity, entry = Store.sequenceEntrySize
        var position = length
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
