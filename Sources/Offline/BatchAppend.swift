import BehaviorLog
import Errors
import Foundation
import LMDB
import Model
public import Scorer
import Store

extension BehaviorEncoder {
    /// `Scorer.append(events:)`: the events in order, as one `append` each would apply them — an invalid id or
    /// timestamp, or a behavior older than its user's last one, is refused alone — with each user's stored state
    /// read once and written once, every user in one write transaction. Users are told apart by their bytes, as
    /// the store keys them. New items get store ids in the order they arrive, as one append per event gives them.
    public func append(events: [Scorer.Event]) throws -> [Scorer.EventStatus] {
        try append(events: events, source: nil)
    }

    /// `append(events:)`, with `source`'s offset written in the users' write transaction (in a transaction of
    /// its own when no behavior of the batch is appended).
    public func append(events: [Scorer.Event], source: Scorer.SourcePosition?) throws -> [Scorer.EventStatus] {
        var batch = EventBatch(events)
        try store.environment.read { txn in
            for (user, _) in batch.groups { batch.stored.append(try storedUser(txn, user)) }
            try batch.classify { try store.itemId(txn, storeId: $0) }
            batch.writes = try batch.groups.indices.filter { !batch.groups[$0].1.isEmpty }.map { g in
                // Pending behaviors (the stored tail, then these) fold into the record in whole multiples of
                // `Store.foldEvery`, as they would one event at a time; a new user gets its record now.
                let (user, behaviors) = batch.groups[g], stored = batch.stored[g]
                let fold = Store.folded(pending: (stored?.pending ?? 0) + behaviors.count)
                let tail = try fold > 0 ? stored.map { try tailBehaviors(txn, user, $0) } ?? [] : []
                return UserWrite(user: user, stored: stored, tail: tail, behaviors: behaviors, fold: fold)
            }
        }
        guard !batch.writes.isEmpty else {
            if let source { try store.environment.write { try store.putSourceOffset($0, source.name, source.offset) } }
            return batch.status
        }
        var report = Report()
        try writeUsers(
            batch.writes, catalog: batch.catalog, batch: batch.writes.count, progress: nil, report: &report,
            replace: false, itemOrder: batch.itemOrder
        ) { txn in
            if let source { try self.store.putSourceOffset(txn, source.name, source.offset) }
        }
        return batch.status
    }
}

/// One batch of events on its way to `writeUsers`: their statuses, grouped by user (by the bytes of the id).
private struct EventBatch {
    let events: [Scorer.Event]
    var status: [Scorer.EventStatus]
    /// Each user once, with the behaviors it gets; `groupOf[k]` is event k's user's place here.
    var groups: [(String, [Behavior])] = []
    var groupOf: [Int]
    var stored: [BehaviorEncoder.StoredUser?] = []
    var catalog: [String: ItemInfo] = [:], itemOrder: [String] = []
    var writes: [BehaviorEncoder.UserWrite] = []

    init(_ events: [Scorer.Event]) {
        self.events = events
        status = [Scorer.EventStatus](repeating: .appended, count: events.count)
        groupOf = [Int](repeating: -1, count: events.count)
        var slot: [[UInt8]: Int] = [:]
        for (k, e) in events.enumerated() {
            if let reason = BehaviorEncoder.invalidity(user: e.user, item: e.item, timestamp: e.timestamp) {
                status[k] = .refused(kind: .invalidArgument, reason: reason)
                continue
            }
            let key = Array(e.user.utf8)
            if let g = slot[key] {
                groupOf[k] = g
            } else {
                groupOf[k] = groups.count
                slot[key] = groups.count
                groups.append((e.user, []))
            }
        }
    }

    /// Refuses the events older than their user's last behavior, skips the ones that are that behavior again,
    /// and gives the rest to their groups. `rawId` names a store item id (for the stored last behavior, read
    /// only when an event ties with its time).
    mutating func classify(rawId: (UInt32) throws -> String?) throws {
        var last = stored.map { $0?.lastTimestamp ?? -.infinity }
        var previous: [(item: String, feedback: UInt8)?] = Array(repeating: nil, count: groups.count)
        var seen = Set<[UInt8]>()
        for (k, e) in events.enumerated() where status[k] == .appended {
            let g = groupOf[k]
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
            let feedback = Feedback(e.label).rawValue
            if e.timestamp == last[g] {
                if previous[g] == nil, let entry = stored[g]?.last, let raw = try rawId(entry.item) {
                    previous[g] = (raw, entry.feedback)
                }
                if let p = previous[g], p.feedback == feedback, p.item.utf8.elementsEqual(e.item.utf8) {
                    status[k] = .alreadyApplied
                    continue
                }
            }
            previous[g] = (e.item, feedback)
            last[g] = e.timestamp
            groups[g].1.append(Behavior(user: e.user, item: e.item, timestamp: e.timestamp, label: e.label))
            if let category = e.category { catalog[e.item] = ItemInfo(category: category) }
            if seen.insert(Array(e.item.utf8)).inserted { itemOrder.append(e.item) }
        }
    }
}
