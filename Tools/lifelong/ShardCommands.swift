import ArgumentParser
import Model
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
        let manifest = try ShardManifest.build(stores: stores, fingerprint: bundle.fingerprintHex, manifestPath: out)
        try manifest.write(to: out)
        print(
            "wrote \(out): \(stores.count) shards, \(manifest.shards.reduce(0) { $0 + $1.users }) users, "
                + "\(manifest.shards.reduce(0) { $0 + $1.behaviors }) behaviors")
    }
}
