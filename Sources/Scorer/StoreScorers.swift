import Errors
import Foundation
public import Model
public import Store

/// A store, or every shard of a manifest, opened with one bundle: the one holder the CLI, the service, the C
/// ABI and `ingest` use, and the one place that routes a user to its shard. Scores equal those of one store
/// holding every user (every shard has the whole catalog, and a user's record lives in one shard).
public final class StoreScorers: Sendable {
    /// Where the user state is.
    public enum Source: Sendable, Equatable {
        case store(String)
        /// A shard manifest (`lifelong manifest`, docs/FORMATS.md).
        case manifest(String)

        /// The store folder or the manifest file.
        public var path: String {
            switch self {
            case .store(let folder): folder
            case .manifest(let file): file
            }
        }
    }

    public let source: Source
    /// The manifest (nil for one store).
    public let manifest: ShardManifest?
    /// The scorers, by shard number (one for a store).
    public let shards: [Scorer]

    public var model: ModelBundle { shards[0].model }
    /// The store folder or the manifest file.
    public var path: String { source.path }
    public var isSharded: Bool { manifest != nil }

    /// One store's scorer.
    public init(_ scorer: Scorer) {
        source = .store(scorer.store.path)
        manifest = nil
        shards = [scorer]
    }

    /// Opens `source` with `open` (a store folder → its scorer); a manifest is checked against the model, and
    /// an error opening a shard names it.
    public init(model: ModelBundle, source: Source, open: (ModelBundle, String) throws -> Scorer) throws {
        self.source = source
        switch source {
        case .store(let folder):
            manifest = nil
            shards = [try open(model, folder)]
        case .manifest(let manifestPath):
            let manifest = try ShardManifest(contentsOf: manifestPath)
            guard manifest.fingerprint == model.fingerprintHex else {
                throw LifelongError(
                    .modelMismatch,
                    message:
                        "manifest \(manifestPath) is for model \(manifest.fingerprint), but the bundle \(model.folder) "
                        + "is model \(model.fingerprintHex)")
            }
            var shards: [Scorer] = []
            for (row, folder) in manifest.folders(manifestPath: manifestPath) {
                do { shards.append(try open(model, folder)) } catch {
                    throw LifelongError(
                        (error as? any KindedError)?.kind ?? .damaged,
                        message: "manifest \(manifestPath): shard \(row.shard) (\(folder)): \(error)")
                }
            }
            self.manifest = manifest
            self.shards = shards
        }
    }

    /// Opens the bundle at `modelFolder` and `source`, read-only.
    public convenience init(modelFolder: String, source: Source) throws {
        try self.init(model: try ModelBundle(folder: modelFolder), source: source) { model, folder in
            try Scorer(model: model, store: try Store(path: folder, readOnly: true))
        }
    }

    /// The shard number of `user`: `ShardManifest.shard(of:count:)`, 0 for one store.
    public func shard(of user: String) -> Int {
        shards.count == 1 ? 0 : ShardManifest.shard(of: user, count: shards.count)
    }

    /// The scorer that holds `user`.
    public func scorer(for user: String) -> Scorer { shards[shard(of: user)] }

    public func score(user: String, candidates: [String], mode: Scorer.Mode = .bse) throws -> [Float] {
        try scorer(for: user).score(user: user, candidates: candidates, mode: mode)
    }

    public func score(
        user: String, candidates: [String], mode: Scorer.Mode = .bse, into out: UnsafeMutableBufferPointer<Float>
    ) throws {
        try scorer(for: user).score(user: user, candidates: candidates, mode: mode, into: out)
    }

    /// Appends to the user's shard (the scorers must have been opened with a writer).
    public func append(
        user: String, item: String, timestamp: Double, label: Bool? = nil, category: String? = nil
    ) throws {
        try scorer(for: user).append(user: user, item: item, timestamp: timestamp, label: label, category: category)
    }

    /// `Scorer.append(events:source:)` over the shards: each event to its user's shard, one batch per shard in
    /// shard order, each with `source`'s offset. A shard that fails throws after the shards before it have
    /// committed (their offsets say so).
    public func append(events: [Scorer.Event], source: Scorer.SourcePosition? = nil) throws -> [Scorer.EventStatus] {
        guard shards.count > 1 else { return try shards[0].append(events: events, source: source) }
        var byShard = [[Int]](repeating: [], count: shards.count)
        for (k, e) in events.enumerated() { byShard[shard(of: e.user)].append(k) }
        var status = [Scorer.EventStatus](repeating: .appended, count: events.count)
        for (s, indices) in byShard.enumerated() where !indices.isEmpty {
            for (k, result) in zip(indices, try shards[s].append(events: indices.map { events[$0] }, source: source)) {
                status[k] = result
            }
        }
        return status
    }
}
