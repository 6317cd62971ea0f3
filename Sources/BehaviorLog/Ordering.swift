/// Where a log is cut in time: history before, the evaluated part after.
public enum TimeSplit: Sendable, Equatable {
    /// The timestamp of the event at this fraction of the log in time order (0 = start with an empty store).
    case quantile(Double)
    /// Events with a timestamp below this are history.
    case time(Double)
}

extension Dataset {
    /// The log in replay order: (timestamp, item id, user id), ids compared as UTF-8 bytes. Training, the
    /// replay and the time split all read the log in this order.
    public static func ordered(_ behaviors: [Behavior]) -> [Behavior] {
        behaviors.sorted { a, b in
            if a.timestamp != b.timestamp { return a.timestamp < b.timestamp }
            if a.item != b.item { return a.item.precedesInByteOrder(b.item) }
            return a.user.precedesInByteOrder(b.user)
        }
    }

    /// The split time for `split` over `ordered` (the log in replay order): history is every event strictly
    /// before it. A quantile split puts all events sharing the boundary timestamp on the later side.
    public static func splitTime(_ split: TimeSplit, ordered: [Behavior]) -> Double {
        switch split {
        case .time(let t): return t
        case .quantile(let q):
            guard q > 0, !ordered.isEmpty else { return -.infinity }
            let index = min(ordered.count - 1, Int((q * Double(ordered.count)).rounded(.down)))
            return ordered[index].timestamp
        }
    }
}

extension Behavior {
    /// A timestamp as the logs write it: an integer when it is one (`893286638`), otherwise Swift's shortest
    /// round-tripping decimal. Every message and every written log uses this form.
    public static func text(ofTimestamp t: Double) -> String {
        t == t.rounded() && abs(t) < 1e15 ? String(Int64(t)) : String(t)
    }
}

extension Dataset {
    /// The ids a model over this log needs: every item of the catalog and of the behaviors, and every catalog
    /// category, each in UTF-8 byte order (rows 1… of `vocab.tsv`, as `init-model` and `train` assign them).
    public var vocabularyIds: (items: [String], categories: [String]) {
        var items = Set(self.items.keys)
        for b in behaviors { items.insert(b.item) }
        let categories = Set(self.items.values.compactMap(\.category))
        let byteOrder: (String, String) -> Bool = { $0.precedesInByteOrder($1) }
        return (items.sorted(by: byteOrder), categories.sorted(by: byteOrder))
    }

    /// Every catalog item's text, by item id (the texts BAHE's atom cache embeds).
    public var texts: [String: String] { items.compactMapValues(\.text) }
}
