import BehaviorLog
import Errors
import Foundation
import LMDB
import Model
public import Scorer
import Store

extension BehaviorEncoder {
    /// `Scorer.append(events:)`: the events in order, as one `append` each would apply them — an invalid id or
    /// timestamp, or a behavior older than its user's last one, is refused alone — with each user's record read
    /// once and written once, every user in one write transaction. Users are told apart by their bytes, as the
    /// store keys them. New items get store ids in the order they arrive, as one append per event gives them.
    public func append(events: [Scorer.Event]) throws -> [Scorer.EventStatus] {
        try append(events: events, source: nil)
    }

    /// `append(events:)`, with `source`'s offset written in the users' write transaction (in a transaction of
    /// its own when no behavior of the batch is appended).
    public func append(events: [Scorer.Event], source: Scorer.SourcePosition?) throws -> [Scorer.EventStatus] {
        var status = [Scorer.EventStatus](repeating: .appended, count: events.count)
        for (k, e) in events.enumerated() {
            if let reason = Self.invalidity(of: e) { status[k] = .refused(kind: .invalidArgument, reason: reason) }
        }
        // The users' stored records, one read each; `slot[bytes]` is the user's place in `groups`.
        var slot: [[UInt8]: Int] = [:]
        var groups: [(String, [Behavior])] = [], existing: [UserRecord?] = [], last: [Double] = []
        var lastBehavior: [(item: [UInt8], timestamp: Double, feedback: UInt8)?] = []
        for (k, e) in events.enumerated() where status[k] == .appended && slot[Array(e.user.utf8)] == nil {
            slot[Array(e.user.utf8)] = groups.count
            groups.append((e.user, []))
        }
        try store.environment.read { txn in
            for (user, _) in groups {
                let record = try txn.get(store.users, user) { try UserRecord(decoding: $0) }
                if let record, record.fingerprint != model.fingerprint {
                    throw EncodeError(
                        .modelMismatch, message: "user '\(user)' was encoded with another model; re-encode the store")
                }
                existing.append(record)
                last.append(record?.lastTimestamp ?? -.infinity)
                let length = Int(record?.length ?? 0)
                if length > 0, let entry = try store.sequenceEntries(txn, user: user, (length - 1)..<length)?.first,
                    let raw = try txn.get(store.itemIds, entry.item, { Array($0) })
                {
                    lastBehavior.append((raw, entry.timestamp, entry.feedback))
                } else {
                    lastBehavior.append(nil)
                }
            }
        }
        var catalog: [String: ItemInfo] = [:], itemOrder: [String] = [], seen = Set<[UInt8]>()
        for (k, e) in events.enumerated() where status[k] == .appended {
            let g = slot[Array(e.user.utf8)]!
            guard e.timestamp >= last[g] else {
                status[k] = .refused(
                    kind: .invalidArgument,
                    reason: "user '\(e.user)': behavior (item '\(e.item)', timestamp "
                        + "\(Behavior.text(ofTimestamp: e.timestamp))) is older than the user's last timestamp "
                        + "\(Behavior.text(ofTimestamp: last[g]))")
                continue
            }
            // The user's last behavior again (same item, time and feedback): what one `append` takes for an
            // earlier run of itself and skips, reporting success.
            let feedback = Feedback(e.label).rawValue, item = Array(e.item.utf8)
            if let l = lastBehavior[g], l.item == item, l.timestamp == e.timestamp, l.feedback == feedback {
                status[k] = .alreadyApplied
                continue
            }
            lastBehavior[g] = (item, e.timestamp, feedback)
            last[g] = e.timestamp
            groups[g].1.append(Behavior(user: e.user, item: e.item, timestamp: e.timestamp, label: e.label))
            if let category = e.category { catalog[e.item] = ItemInfo(category: category) }
            if seen.insert(Array(e.item.utf8)).inserted { itemOrder.append(e.item) }
        }
        let written = groups.indices.filter { !groups[$0].1.isEmpty }
        guard !written.isEmpty else {
            if let source { try store.environment.write { try store.putSourceOffset($0, source.name, source.offset) } }
            return status
        }
        var report = Report()
        try writeUsers(
            written.map { groups[$0] }, catalog: catalog, batch: written.count, progress: nil, report: &report,
            existing: written.map { existing[$0] }, replace: false, itemOrder: itemOrder
        ) { txn in
            if let source { try self.store.putSourceOffset(txn, source.name, source.offset) }
        }
        return status
    }

    /// Why one event cannot be appended whatever the store holds, or nil.
    static func invalidity(of e: Scorer.Event) -> String? {
        for (what, id) in [("user", e.user), ("item", e.item)] where !Store.isValidId(id) {
            return "\(what) id '\(id.prefix(64))\(id.utf8.count > 64 ? "…" : "")' is empty, contains a NUL byte or "
                + "is longer than \(Store.maxIdBytes) bytes (the store's key limit)"
        }
        guard e.timestamp.isFinite else { return "user '\(e.user)': timestamp \(e.timestamp) is not a finite number" }
        return nil
    }
}
