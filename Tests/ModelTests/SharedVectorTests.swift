import Foundation
import Model
import Store
import Tensors
import Testing
import TestSupport

/// The pieces written once per language, held to the same vectors in both (python/tests/test_shared_vectors.py
/// checks the Python copies against the same files): the routing hash, the projection draw, the safetensors
/// writer and the shard manifest.
@Suite("Shared vectors: FNV-1a, the projection draw, the safetensors writer, the manifest")
struct SharedVectorTests {
    func json(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: Repository.golden(name))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test("FNV-1a-64 and the shard of an id equal Fixtures/golden/fnv1a64.json (the specification's vectors)")
    func fnv() throws {
        let vectors = try #require(try json("fnv1a64.json")["vectors"] as? [[String: Any]])
        #expect(vectors.count >= 10)
        for v in vectors {
            let text = try #require(v["text"] as? String)
            let hash = withUnsafeBytes(of: Hashing.fnv1a64(text).bigEndian, Array.init)
            #expect(Hashing.hex(hash) == v["fnv1a64"] as? String)
            #expect(ShardManifest.shard(of: text, count: 4) == (v["shard_of_4"] as? Int))
            #expect(ShardManifest.shard(of: text, count: 7) == (v["shard_of_7"] as? Int))
        }
    }

    @Test("init-model's projection (SplitMix64 + Box–Muller) equals Fixtures/golden/projection.json bit for bit")
    func projection() throws {
        let cases = try #require(try json("projection.json")["cases"] as? [[String: Any]])
        for c in cases {
            let seed = try #require((c["seed"] as? NSNumber)?.uint64Value)
            let values = try #require(c["values"] as? [Double]).map(Float.init)
            var rng = Gaussian(seed: seed)
            #expect((0..<values.count).map { _ in rng.normal() } == values, "seed \(seed)")
        }
        let root = temporaryFolder("projection", create: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        var shape = ModelBundle.Shape()
        (shape.dItem, shape.dCat, shape.m, shape.tau, shape.attentionDim, shape.hidden) = (3, 2, 6, 3, 4, [3, 2])
        let bundle = try ModelBundle.writeRandom(
            to: root, vocabulary: (["a"], ["x"]), shape: shape, seed: 1)
        let first = try #require(cases.first { ($0["seed"] as? NSNumber)?.uint64Value == 1 })
        #expect(bundle.projection == (first["values"] as? [Double] ?? []).map(Float.init))
    }

    @Test("Safetensors.write gives Fixtures/golden/writer.safetensors byte for byte")
    func writer() throws {
        let inputs = try json("writer.json")
        let metadata = try #require(inputs["metadata"] as? [String: String])
        let tensors = try #require(inputs["tensors"] as? [String: [String: Any]]).map { name, t in
            (name: name, shape: t["shape"] as? [Int] ?? [], values: (t["values"] as? [Double] ?? []).map(Float.init))
        }
        let path = temporaryFolder("writer") + ".safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Safetensors.write(tensors, metadata: metadata, to: path)
        let golden = try Data(contentsOf: Repository.golden("writer.safetensors"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == golden)
    }

    @Test("a manifest written by Python (Fixtures/golden/manifest.json) reads as written, and back")
    func manifest() throws {
        let path = Repository.golden("manifest.json").path
        let m = try ShardManifest(contentsOf: path)
        #expect(m.shardCount == 2 && m.fingerprint == String(repeating: "ab", count: 32))
        #expect(m.shards.map(\.path) == ["shard-0/attempt-0", "/abs/shard-1"])
        #expect(m.shards.map(\.users) == [3, 2] && m.shards.map(\.behaviors) == [40, 7])
        #expect(m.folder(of: m.shards[0], manifestPath: path).hasSuffix("Fixtures/golden/shard-0/attempt-0"))
        #expect(m.folder(of: m.shards[1], manifestPath: path) == "/abs/shard-1")
        let copy = temporaryFolder("manifest") + ".json"
        defer { try? FileManager.default.removeItem(atPath: copy) }
        try m.write(to: copy)
        #expect(try ShardManifest(contentsOf: copy) == m)
    }
}
