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
    /// The store's scorers (one per shard of a manifest).
    public let scorers: StoreScorers
    /// The appends' writer (nil unless `--writable`).
    let commits: GroupCommit?

    public var fingerprint: String { model.fingerprintHex }
    /// The store's scorers, by shard number (one without a manifest).
    public var shards: [Scorer] { scorers.shards }
    /// The store folder or the manifest file.
    public var path: String { scorers.path }

    /// Opens `model` with `source`, read-only unless `writable`; every fingerprint is checked (`Scorer`), and only
    /// existing stores are opened.
    public init(model modelFolder: String, source: Configuration.Source, configuration c: Configuration) throws {
        let model = try ModelBundle(folder: modelFolder)
        scorers = try StoreScorers(
            model: model, source: source, writable: c.writable, durability: c.syncEachCommit ? .full : .noSync)
        self.model = model
        commits = c.writable ? GroupCommit(scorers, maxBatch: c.maxBatch) : nil
    }

    /// The scorer of `user`'s shard.
    func scorer(for user: String) -> Scorer { scorers.scorer(for: user) }

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
