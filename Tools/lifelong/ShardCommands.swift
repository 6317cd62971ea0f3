import ArgumentParser
import Crypto
import Foundation
import Model
import Offline
import Scorer
import Store

struct Manifest: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the manifest of a sharded store: the stores of `encode --shard K/N`, shard K the K-th.",
        discussion: """
            Each store is checked before the manifest is written: encoded with --model, and every user in it \
            living in its shard (FNV-1a-64 of the UTF-8 user id, mod N). The manifest records per shard its \
            folder (relative to the manifest's folder when inside it), users, behaviors, the size and SHA-256 of \
            data.mdb and the model fingerprint; `score`, `append` and `verify` take it with --manifest.
            """
    )
    @Option(help: "Model bundle folder the shards were encoded with.") var model: String
    @Option(help: "manifest.json to write.") var out: String
    @Argument(help: "The shard stores, shard 0 first.") var stores: [String]

    func validate() throws {
        guard !stores.isEmpty else { throw ValidationError("give the shard stores, shard 0 first") }
    }

    func run() throws {
        let bundle = try ModelBundle(folder: model)
        let base = URL(fileURLWithPath: (out as NSString).deletingLastPathComponent).standardizedFileURL.path + "/"
        var rows: [ShardManifest.Shard] = []
        for (k, folder) in stores.enumerated() {
            let store = try Store(path: folder, readOnly: true)
            let fingerprint = try store.meta().fingerprint ?? "?"
            guard fingerprint == bundle.fingerprintHex else {
                throw ValidationError(
                    "shard \(k) (\(folder)) was encoded with model \(fingerprint), not \(bundle.fingerprintHex)")
            }
            var users = 0, behaviors: UInt64 = 0
            var stray: String?
            try store.read { txn in
                try store.forEachUser(txn) { user, length in
                    users += 1
                    behaviors += length
                    if stray == nil, ShardManifest.shard(of: user, count: stores.count) != k { stray = user }
                }
            }
            if let stray {
                throw ValidationError(
                    "shard \(k) (\(folder)) holds user '\(stray)', whose shard is "
                        + "\(ShardManifest.shard(of: stray, count: stores.count)) of \(stores.count)")
            }
            let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/data.mdb"), options: .alwaysMapped)
            let absolute = URL(fileURLWithPath: folder).standardizedFileURL.path
            rows.append(
                ShardManifest.Shard(
                    shard: k, path: absolute.hasPrefix(base) ? String(absolute.dropFirst(base.count)) : absolute,
                    users: users, behaviors: Int(behaviors), bytes: data.count,
                    sha256: SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined(),
                    fingerprint: fingerprint))
        }
        let manifest = ShardManifest(shardCount: stores.count, fingerprint: bundle.fingerprintHex, shards: rows)
        try manifest.write(to: out)
        print(
            "wrote \(out): \(stores.count) shards, \(rows.reduce(0) { $0 + $1.users }) users, "
                + "\(rows.reduce(0) { $0 + $1.behaviors }) behaviors")
    }
}
