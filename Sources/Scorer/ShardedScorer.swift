import Foundation
public import Model
import Store
import Tensors

/// Which stores make one sharded store: `manifest.json`, written by whatever encoded the shards
/// (`lifelong manifest` over `lifelong encode --shard K/N` stores). A user lives in shard
/// `FNV-1a-64(UTF-8 user id) mod shards`; every shard holds the whole item catalog.
public struct ShardManifest: Codable, Sendable, Equatable {
    public static let currentFormat = "lifelong.manifest.v1"
    public static let hashName = "fnv1a64-utf8-mod"

    public struct Shard: Codable, Sendable, Equatable {
        public var shard: Int
        /// The store folder, relative to the manifest's folder (or absolute).
        public var path: String
        public var users: Int
        public var behaviors: Int
        /// Bytes of `data.mdb`, and its SHA-256 (hex) when the store was published.
        public var bytes: Int
        public var sha256: String
        /// The model the shard was encoded with.
        public var fingerprint: String

        public init(
            shard: Int, path: String, users: Int, behaviors: Int, bytes: Int, sha256: String, fingerprint: String
        ) {
            self.shard = shard
            self.path = path
            self.users = users
            self.behaviors = behaviors
            self.bytes = bytes
            self.sha256 = sha256
            self.fingerprint = fingerprint
        }
    }

    public var format = Self.currentFormat
    public var shardCount: Int
    public var hash = Self.hashName
    public var fingerprint: String
    public var shards: [Shard]

    enum CodingKeys: String, CodingKey {
        case format, shardCount = "shard_count", hash, fingerprint, shards
    }

    public init(shardCount: Int, fingerprint: String, shards: [Shard]) {
        self.shardCount = shardCount
        self.fingerprint = fingerprint
        self.shards = shards
    }

    /// The shard of `user`: FNV-1a 64 of its UTF-8 bytes, mod `count` (the same as `encode --shard K/N`).
    public static func shard(of user: String, count: Int) -> Int { Int(Hashing.fnv1a64(user) % UInt64(count)) }

    /// Reads and checks a manifest: its format and hash, and exactly one store for each shard 0 ..< count,
    /// each encoded with the manifest's model. Errors name the file and the shard.
    public init(contentsOf path: String) throws {
        func fail(_ m: String) -> Scorer.ScoreError { Scorer.ScoreError(.store, message: "manifest \(path): \(m)") }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw Scorer.ScoreError(.store, message: "manifest \(path): cannot read (\(error.localizedDescription))")
        }
        do { self = try JSONDecoder().decode(ShardManifest.self, from: data) } catch {
            throw fail("not a shard manifest (\(error))")
        }
        guard format == Self.currentFormat else {
            throw fail("format is '\(format)', expected '\(Self.currentFormat)'")
        }
        guard hash == Self.hashName else { throw fail("hash is '\(hash)', expected '\(Self.hashName)'") }
        guard shardCount >= 1 else { throw fail("shard_count is \(shardCount)") }
        for k in 0..<shardCount {
            let rows = shards.filter { $0.shard == k }
            guard !rows.isEmpty else { throw fail("shard \(k) of \(shardCount) has no store") }
            guard rows.count == 1 else { throw fail("shard \(k) is listed \(rows.count) times") }
            guard rows[0].fingerprint == fingerprint else {
                throw Scorer.ScoreError(
                    .modelMismatch,
                    message:
                        "manifest \(path): shard \(k) (\(rows[0].path)) was encoded with model \(rows[0].fingerprint), "
                        + "the manifest's model is \(fingerprint)")
            }
        }
        if let stray = shards.first(where: { !(0..<shardCount).contains($0.shard) }) {
            throw fail("shard \(stray.shard) is outside 0 ..< \(shardCount)")
        }
    }

    /// Writes the manifest as JSON (keys sorted), atomically.
    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// A shard's store folder, resolved against the manifest's folder.
    public func folder(of shard: Shard, manifestPath: String) -> String {
        shard.path.hasPrefix("/")
            ? shard.path
            : ((manifestPath as NSString).deletingLastPathComponent as NSString).appendingPathComponent(shard.path)
    }
}

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
        for k in 0..<manifest.shardCount {
            let row = manifest.shards.first { $0.shard == k }!
            let folder = manifest.folder(of: row, manifestPath: manifestPath)
            do { shards.append(try open(model, folder)) } catch {
                throw Scorer.ScoreError(
                    (error as? Scorer.ScoreError)?.kind ?? .store,
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
