public import Errors
import Store
import Synchronization

extension Scorer {
    /// One behavior of a batch append: what `append(user:item:timestamp:label:category:)` takes.
    public struct Event: Sendable, Equatable {
        public var user: String
        public var item: String
        public var timestamp: Double
        /// The click: nil unknown, false shown and not clicked, true clicked.
        public var label: Bool?
        /// The item's category, for an item the store has not seen (the last event of an item says it).
        public var category: String?

        public init(user: String, item: String, timestamp: Double, label: Bool? = nil, category: String? = nil) {
            self.user = user
            self.item = item
            self.timestamp = timestamp
            self.label = label
            self.category = category
        }
    }

    /// An input stream and the offset of the last event of a batch from it (`lifelong ingest`).
    public struct SourcePosition: Sendable, Equatable {
        public var name: String
        public var offset: Int64
        public init(name: String, offset: Int64) {
            self.name = name
            self.offset = offset
        }
    }

    /// What became of one event of a batch append.
    public enum EventStatus: Sendable, Equatable {
        case appended
        /// The event is its user's last behavior already (same item, timestamp and feedback), as after an
        /// interrupted append that is run again: skipped, as `append(user:…)` skips it, and not an error.
        case alreadyApplied
        /// Refused alone (an invalid id or timestamp, older than the user's last behavior): nothing of it was
        /// written; `kind` is `invalidArgument`.
        case refused(kind: ErrorKind, reason: String)
    }

    /// Appends `events` in order — the same records, bytes and refusals as one `append` per event — with each
    /// user's record read once and written once, all users in one write transaction. Refused events are
    /// reported in their slot and skipped; a failure of the store itself throws and writes no user.
    public func append(events: [Event]) throws -> [EventStatus] { try append(events: events, source: nil) }

    /// `append(events:)`, and in the same write transaction the source's offset (`Store.sourceOffset`): after
    /// a crash the store holds either the batch and its offset or neither.
    public func append(events: [Event], source: SourcePosition?) throws -> [EventStatus] {
        try withWriter { writer in
            let status = try writer.append(events: events, source: source)
            // Items the catalog lacks, or whose event named a category (their record may have changed).
            var stale = Set<String>()
            catalog.withLock { c in
                for (e, s) in zip(events, status) where s == .appended && (e.category != nil || c.byId[e.item] == nil) {
                    stale.insert(e.item)
                }
            }
            try refreshCatalog(stale)
            return status
        }
    }
}
