import Errors
import Foundation
public import Model
public import Store

/// One scorer per shard of a manifest; each request goes to its user's shard. Scores equal those of one
/// store holding every user (every shard has the whole catalog, and a user's record lives in one shard).
public final class ShardedScorer: Sendable {
    public let manifest: ShardManifest
    /// The shards' scorers, by shard number.
    public let shards: [Scorer]

    /// Opens every shard of the manifest at `manifestPath` (read-only) with the bundle at `modelFolder`.
    public convenience init(modelFolder: String, manifestPath: String) throws {
        try self.init(model: try ModelBundle(folder: modelFolder), manifestPath: manifestPath) { model, store in
            try Scorer(model: model, store: try Store(path: store, readOnly: true))
        }
    }

    /// Opens every shard with `open` (a store folder → its scorer), checking the manifest against the model;
    /// an error opening a shard names it.
    public init(
        model: ModelBundle, manifestPath: String, open: (ModelBundle, String) throws -> Scorer
    ) throws {
        let manifest = try ShardManifest(contentsOf: manifestPath)
        guard manifest.fingerprint == model.fingerprintHex else {
            throw Scorer.ScoreError(
                .modelMismatch,
                message:
                    "manifest \(manifestPath) is for model \(manifest.fingerprint), but the bundle \(model.folder) is "
                    + "model \(model.fingerprintHex)")
        }
        var shards: [Scorer] = []
        for (row, folder) in manifest.folders(manifestPath: manifestPath) {
            let k = row.shard
            do { shards.append(try open(model, folder)) } catch {
                throw Scorer.ScoreError(
                    (error as? any LifelongError)?.kind ?? .damaged,
                    message: "manifest \(manifestPath): shard \(k) (\(folder)): \(error)")
            }
        }
        self.manifest = manifest
        self.shards = shards
    }

    /// The scorer that holds `user`.
    public func scorer(for user: String) -> Scorer {
        shards[ShardManifest.shard(of: user, count: shards.count)]
    }

    public func score(user: String, candidates: [String], mode: Scorer.Mode = .bse) throws -> [Float] {
        try scorer(for: user).score(user: user, candidates: candidates, mode: mode)
    }

    public func score(
        user: String, candidates: [String], mode: Scorer.Mode = .bse, into out: UnsafeMutableBufferPointer<Float>
    ) throws {
        try scorer(for: user).score(user: user, candidates: candidates, mode: mode, into: out)
    }

    /// Appends to the user's shard (the shards must have been opened with a writer).
    public func append(
        user: String, item: String, timestamp: Double, label: Bool? = nil, category: String? = nil
    ) throws {
        try scorer(for: user).append(user: user, item: item, timestamp: timestamp, label: label, category: category)
    }
}
