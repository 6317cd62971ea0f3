import Foundation
import LMDB
public import Model
import Offline
public import Scorer
import Store

/// A model bundle and the store (or every shard of a manifest) opened together: what one request is
/// answered by from start to end. A roll-out opens a new deployment beside the serving one; the old one is
/// closed when the last request holding it lets go.
public final class Deployment: Sendable {
    public let model: ModelBundle
    /// The store's scorers, by shard number (one without a manifest).
    public let shards: [Scorer]
    /// The store folder or the manifest file.
    public let path: String
    /// The appends' writer (nil unless `--writable`).
    let commits: GroupCommit?

    public var fingerprint: String { model.fingerprintHex }

    /// Opens `model` with `source`, read-only unless `writable`; every fingerprint is checked (`Scorer`).
    public init(model modelFolder: String, source: Configuration.Source, configuration c: Configuration) throws {
        let model = try ModelBundle(folder: modelFolder)
        let writable = c.writable
        let open = { (model: ModelBundle, folder: String) throws -> Scorer in
            // A writable open would create a store where there is none: the service only opens existing ones.
            guard FileManager.default.fileExists(atPath: folder + "/data.mdb") else {
                throw ServiceError(.notFound, "no store at \(folder) (no data.mdb)")
            }
            let store = try Store(path: folder, readOnly: !writable, durability: c.syncEachCommit ? .full : .noSync)
            return try Scorer(model: model, store: store, writable: writable)
        }
        switch source {
        case .store(let folder):
            shards = [try open(model, folder)]
            path = folder
        case .manifest(let manifest):
            shards = try ShardedScorer(model: model, manifestPath: manifest, open: open).shards
            path = manifest
        }
        self.model = model
        commits = writable ? GroupCommit(shards: shards, maxBatch: c.maxBatch) : nil
    }

    /// The scorer of `user`'s shard.
    func scorer(for user: String) -> Scorer {
        shards.count == 1 ? shards[0] : shards[ShardManifest.shard(of: user, count: shards.count)]
    }

    /// Users over all shards, and the catalog's items (every shard holds all of it).
    func counts() throws -> (users: Int, items: Int) {
        var users = 0, items = 0
        for shard in shards {
            let c = try shard.store.read { try shard.store.counts($0) }
            users += c.users
            items = max(items, c.items)
        }
        return (users, items)
    }
}
