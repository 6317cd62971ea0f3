import Errors
public import BehaviorLog
import Foundation
public import Model
import Store
public import TextEncoder

extension BehaviorEncoder {
    /// An encoder that appends to the existing store at `folder`, with the precision the store was encoded
    /// with; a folder without a store is refused (`notFound`).
    public static func appending(
        to folder: String, model: ModelBundle, textModel: MiniLM? = nil
    ) throws -> BehaviorEncoder {
        guard FileManager.default.fileExists(atPath: (folder as NSString).appendingPathComponent("data.mdb")) else {
            throw LifelongError(.notFound, message: "\(folder): no store here (create one with `lifelong encode`)")
        }
        let store = try Store(path: folder)
        return try BehaviorEncoder(
            model: model, store: store, precision: try store.meta().precision, textModel: textModel)
    }

    /// Appends `data` to a sharded store: each user's behaviors go to the user's shard (the manifest is read
    /// and checked first; every shard gets the whole catalog). Shards without behaviors are not opened.
    /// - Returns: each touched shard's number and report, in shard order.
    public static func append(
        _ data: Dataset, manifestPath: String, model: ModelBundle, textModel: MiniLM? = nil, batch: Int = 256,
        progress: ((Int) -> Progress?)? = nil
    ) throws -> [(shard: Int, report: Report)] {
        let manifest = try ShardManifest(contentsOf: manifestPath)
        guard manifest.fingerprint == model.fingerprintHex else {
            throw LifelongError(
                .modelMismatch,
                message: "manifest \(manifestPath) is for model \(manifest.fingerprint), not \(model.fingerprintHex)")
        }
        var parts = [[Behavior]](repeating: [], count: manifest.shardCount)
        for b in data.behaviors { parts[ShardManifest.shard(of: b.user, count: manifest.shardCount)].append(b) }
        var reports: [(Int, Report)] = []
        for (row, folder) in manifest.folders(manifestPath: manifestPath) where !parts[row.shard].isEmpty {
            let encoder = try appending(to: folder, model: model, textModel: textModel)
            let report = try encoder.append(
                Dataset(behaviors: parts[row.shard], items: data.items), batch: batch,
                progress: progress?(row.shard))
            reports.append((row.shard, report))
        }
        return reports
    }
}
