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
            if let reason = Self.invalidity(user: e.user, item: e.item, timestamp: e.timestamp) {
                status[k] = .refused(kind: .invalidArgument, reason: reason)
            }
        }
        // The users' stored records, one read each; `groupOf[k]` is event k's user's place in `groups`.
        var slot: [[UInt8]: Int] = [:], groupOf = [Int](repeating: -1, count: events.count)
        var groups: [(String, [Behavior])] = [], existing: [UserRecord?] = [], last: [Double] = []
        var lastBehavior: [(item: [UInt8], timestamp: Double, feedback: UInt8)?] = []
        for (k, e) in events.enumerated() where status[k] == .appended {
            let key = Array(e.user.utf8)
            if let g = slot[key] {
                groupOf[k] = g
            } else {
                groupOf[k] = groups.count
                slot[key] = groups.count
                groups.append((e.user, []))
            }
        }
        try store.environment.read { txn in
            for (user, _) in groups {
                let record = try storedRecord(txn, user)
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
            let feedback = Feedback(e.label).rawValue, item = Array(e.item.utf8)
            if let l = lastBehavior[g], l.item == item, l.timestamp == e.timestamp, l.feedback == feedback {
                status[k] = .alreadyApplied
                continue
            }
            lastBehavior[g] = (item, e.timestamp, feedback)
            last[g] = e.timestamp
            groups[g].1.append(Behavior(user: e.user, item: e.item, timestamp: e.timestamp, label: e.label))
            if let category = e.category { catalog[e.item] = ItemInfo(category: category) }
            if seen.insert(item).inserted { itemOrder.append(e.item) }
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
}
