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
    /// Items resolved by earlier event appends (`resolveItems`).
    var itemCache = ItemCache()

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
    /// Opens the encoder; a store that already exists must have been written with the same model and
    /// precision (its `meta` is checked), a new one gets its `meta` written.
    /// - Parameter textModel: required when the bundle has a text projection (`d_text > 0`): the text model
    ///   its `text_layers` metadata refers to (all-MiniLM-L6-v2).
    public init(
        model: ModelBundle, store: Store, precision: UserRecord.Precision = .f32, textModel: MiniLM? = nil
    ) throws {
        if model.config.dText > 0 {
            guard let textModel else {
                throw LifelongError(
                    .invalidArgument,
                    message:
                        "\(model.folder): the bundle has a text projection (d_text = \(model.config.dText)); give "
                        + "the text model folder (--text-model DIR)"
                )
            }
            guard let k = model.config.textLayers, (0...textModel.config.layers).contains(k) else {
                throw LifelongError(
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
            throw LifelongError(
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
                throw LifelongError(.invalidArgument, message: reason)
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
            groups.map { .bulk($0.0, nil, tail: [], $0.1) }, catalog: data.items, batch: batch, progress: progress,
            report: &report, replace: true)
        report.users = groups.count
        report.seconds = Date().timeIntervalSince(start)
        return report
    }

    /// Appends new behaviors to existing users (or creates them) without re-reading their history:
    /// O(n_sig · d) per behavior plus the last sequence chunk; each written user's pending tail is folded into
    /// its record. A behavior older than the user's stored last timestamp rejects the whole input before
    /// anything is written.
    public func append(_ data: Dataset, batch: Int = 256, progress: Progress? = nil) throws -> Report {
        let start = Date()
        try validateIds(data)
        var groups = Self.grouped(data.behaviors, shard: nil)
        let grouped = Date()
        var existing: [String: (StoredUser, [Behavior])] = [:]
        var applied = Set<String>()
        try store.environment.read { txn in
            for (user, behaviors) in groups {
                guard let stored = try storedUser(txn, user) else { continue }
                if let first = behaviors.first, first.timestamp <= stored.lastTimestamp,
                    try sequence(txn, user, length: stored.length, endsWith: behaviors)
                {
                    applied.insert(user)  // an earlier run of this append got this far
                    continue
                }
                if let first = behaviors.first, first.timestamp < stored.lastTimestamp {
                    throw LifelongError(
                        .invalidArgument,
                        message:
                            "user '\(user)': behavior (item '\(first.item)', timestamp "
                            + "\(Behavior.text(ofTimestamp: first.timestamp))) is older than the stored last "
                            + "timestamp \(Behavior.text(ofTimestamp: stored.lastTimestamp)); nothing was "
                            + "appended"
                    )
                }
                existing[user] = (stored, try tailBehaviors(txn, user, stored))
            }
        }
        groups.removeAll { applied.contains($0.0) }
        var report = Report()
        report.usersAlreadyAppended = applied.count
        report.groupingSeconds = grouped.timeIntervalSince(start)
        try writeUsers(
            groups.map { user, behaviors in
                .bulk(user, existing[user]?.0, tail: existing[user]?.1 ?? [], behaviors)
            }, catalog: data.items, batch: batch, progress: progress, report: &report, replace: false)
        report.users = groups.count
        report.seconds = Date().timeIntervalSince(start)
        return report
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
}
