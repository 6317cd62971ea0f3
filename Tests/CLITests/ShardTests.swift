import BehaviorLog
import Foundation
import Model
import Offline
import Scorer
import Store
import TestSupport
import Testing

/// Sharded stores: `encode --shard K/N` stores, `lifelong manifest`, and the scorer, `score`, `append` and
/// `verify` routing each user to their shard.
@Suite("Sharded stores: manifest and routing", .serialized)
struct ShardTests {
    /// A synthetic log, one store of all of it, and four shard stores with their manifest.
    struct Fixture {
        let root: String
        var model: String { root + "/model" }
        var single: String { root + "/single" }
        var manifest: String { root + "/shards/manifest.json" }
        let data: Dataset

        init() throws {
            root = temporaryFolder("shards", create: true)
            #expect(
                try CLI.run(["synth", "--out", root + "/log", "--users", "60", "--length", "5,300", "--seed", "8"])
                    .status == 0)
            data = try Dataset.load(root + "/log")
            #expect(try CLI.run(["init-model", "--data", root + "/log", "--out", model, "--feedback"]).status == 0)
            #expect(
                try CLI.run(["encode", "--model", model, "--data", root + "/log", "--store", single, "--quiet"]).status
                    == 0)
            var stores: [String] = []
            for k in 0..<4 {
                let store = root + "/shards/shard-\(k)"
                let r = try CLI.run([
                    "encode", "--model", model, "--data", root + "/log", "--store", store, "--shard", "\(k)/4",
                    "--quiet",
                ])
                #expect(r.status == 0, "\(r.stderr)")
                stores.append(store)
            }
            let r = try CLI.run(["manifest", "--model", model, "--out", manifest] + stores)
            #expect(r.status == 0, "\(r.stderr)")
        }
    }

    @Test(
        "every user scores the same through the manifest as in one store, in every mode; the shards partition the users"
    )
    func routedScoresEqualOneStore() throws {
        let f = try Fixture()
        defer { try? FileManager.default.removeItem(atPath: f.root) }
        let m = try ShardManifest(contentsOf: f.manifest)
        #expect(m.shardCount == 4 && m.shards.map(\.path) == (0..<4).map { "shard-\($0)" })
        let users = Set(f.data.behaviors.map(\.user))
        #expect(m.shards.reduce(0) { $0 + $1.users } == users.count)
        #expect(m.shards.reduce(0) { $0 + $1.behaviors } == f.data.behaviors.count)
        let one = try Scorer(modelFolder: f.model, storeFolder: f.single)
        let sharded = try StoreScorers(modelFolder: f.model, source: .manifest(f.manifest))
        let candidates = (0..<60).map { "i\($0 * 7)" } + ["not-an-item"]
        for user in users.sorted() + ["cold-user"] {
            for mode in Scorer.Mode.allCases {
                #expect(
                    try sharded.score(user: user, candidates: candidates, mode: mode)
                        == one.score(user: user, candidates: candidates, mode: mode), "\(user) \(mode)")
            }
        }
        let cli = try CLI.run([
            "score", "--model", f.model, "--manifest", f.manifest, "--user", users.sorted()[3], "--items", "i1,i2,i3",
        ])
        let direct = try CLI.run([
            "score", "--model", f.model, "--store", f.single, "--user", users.sorted()[3], "--items", "i1,i2,i3",
        ])
        #expect(cli.status == 0 && cli.stdout == direct.stdout, "\(cli.stderr)")
        let verify = try CLI.run(["verify", "--manifest", f.manifest, "--model", f.model, "--quiet"])
        #expect(verify.status == 0 && verify.stdout.contains("ok: 4 shards"), "\(verify.stdout)")
    }

    @Test("append --manifest routes each behavior to its user's shard: scores equal an append to one store")
    func appendRoutes() throws {
        let f = try Fixture()
        defer { try? FileManager.default.removeItem(atPath: f.root) }
        let users = Array(Set(f.data.behaviors.map(\.user)).sorted().prefix(8)) + ["brand-new"]
        var lines = "user_id:token\titem_id:token\ttimestamp:float\tlabel:float\n"
        for (k, u) in users.enumerated() { lines += "\(u)\ti\(k * 3)\t\(4_000_000_000 + k)\t\(k % 2)\n" }
        try FileManager.default.createDirectory(atPath: f.root + "/more", withIntermediateDirectories: true)
        try lines.write(toFile: f.root + "/more/more.inter", atomically: true, encoding: .utf8)
        for target in [["--manifest", f.manifest], ["--store", f.single]] {
            let r = try CLI.run(["append", "--model", f.model, "--data", f.root + "/more", "--quiet"] + target)
            #expect(r.status == 0, "\(r.stderr)")
        }
        let one = try Scorer(modelFolder: f.model, storeFolder: f.single)
        let sharded = try StoreScorers(modelFolder: f.model, source: .manifest(f.manifest))
        for user in users {
            #expect(
                try sharded.score(user: user, candidates: ["i1", "i9"])
                    == one.score(user: user, candidates: ["i1", "i9"]))
        }
        #expect(try CLI.run(["verify", "--manifest", f.manifest, "--quiet"]).status == 0)
    }

    @Test("a manifest with a missing shard, another model, or a store in the wrong shard is refused, naming the shard")
    func refusesBadManifests() throws {
        let f = try Fixture()
        defer { try? FileManager.default.removeItem(atPath: f.root) }
        var m = try ShardManifest(contentsOf: f.manifest)
        let good = m
        m.shards.removeAll { $0.shard == 2 }
        try m.write(to: f.manifest)
        #expect { try StoreScorers(modelFolder: f.model, source: .manifest(f.manifest)) } throws: {
            "\($0)".contains("shard 2 of 4 has no store")
        }
        let r = try CLI.run(["score", "--model", f.model, "--manifest", f.manifest, "--user", "u1", "--items", "i1"])
        #expect(r.status == 1 && r.stderr.contains("shard 2 of 4 has no store"), "\(r.stderr)")

        m = good
        m.shards[1].fingerprint = String(repeating: "0", count: 64)
        try m.write(to: f.manifest)
        #expect { try StoreScorers(modelFolder: f.model, source: .manifest(f.manifest)) } throws: {
            "\($0)".contains("shard 1 (shard-1) was encoded with model 0000")
        }

        // Shards listed in the wrong order: the stores' users are not in their hash's shard.
        let swapped = try CLI.run([
            "manifest", "--model", f.model, "--out", f.root + "/wrong.json", f.root + "/shards/shard-1",
            f.root + "/shards/shard-0", f.root + "/shards/shard-2", f.root + "/shards/shard-3",
        ])
        #expect(
            swapped.status != 0 && swapped.stderr.contains("shard 0 (") && swapped.stderr.contains("whose shard is 1"))
        // And a manifest of another model's bundle.
        #expect(
            try CLI.run(["init-model", "--data", f.root + "/log", "--out", f.root + "/other", "--seed", "2"]).status
                == 0)
        let other = try CLI.run([
            "score", "--model", f.root + "/other", "--manifest", f.root + "/shards/manifest.json", "--user", "u1",
            "--items", "i1",
        ])
        #expect(other.status == 1)
    }
}
