import Crypto
public import Errors
import Foundation
import Tensors

/// Which stores make one sharded store: `manifest.json` (`lifelong.manifest.v1`, docs/FORMATS.md), written
/// by `build` over `lifelong encode --shard K/N` stores (`lifelong manifest`, the Spark job). A user lives
/// in shard `FNV-1a-64(UTF-8 user id) mod shards`; every shard holds the whole item catalog.
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
        func fail(_ m: String) -> LifelongError { .init(.damaged, message: "manifest \(path): \(m)") }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw LifelongError(.notFound, message: "manifest \(path): no such file")
        }
        guard !isFolder.boolValue else {
            throw LifelongError(
                .invalidArgument, message: "manifest \(path) is a folder; give its manifest.json")
        }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw LifelongError(.io, message: "manifest \(path): cannot read (\(error.localizedDescription))")
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
                throw LifelongError(
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
        do { try encoder.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw LifelongError(.io, message: "manifest \(path): cannot write (\(error.localizedDescription))")
        }
    }

    /// A shard's store folder, resolved against the manifest's folder.
    public func folder(of shard: Shard, manifestPath: String) -> String {
        shard.path.hasPrefix("/")
            ? shard.path
            : ((manifestPath as NSString).deletingLastPathComponent as NSString).appendingPathComponent(shard.path)
    }

    /// The shards in order, each with its resolved store folder.
    public func folders(manifestPath: String) -> [(shard: Shard, folder: String)] {
        shards.sorted { $0.shard < $1.shard }.map { ($0, folder(of: $0, manifestPath: manifestPath)) }
    }
}

extension ShardManifest {
    /// The manifest of `stores` (shard K the K-th) that will be written at `manifestPath`: each store is
    /// checked first — encoded with the model whose fingerprint is `fingerprint`, every user in its shard —
    /// and described by its folder (relative to the manifest's folder when inside it), users, behaviors,
    /// and the size and SHA-256 of `data.mdb`.
    /// - Complexity: one scan of each store's `users` and one read of each `data.mdb`.
    public static func build(stores: [String], fingerprint: String, manifestPath: String) throws -> ShardManifest {
        guard !stores.isEmpty else {
            throw LifelongError(.invalidArgument, message: "a manifest needs the shard stores, shard 0 first")
        }
        let base =
            URL(fileURLWithPath: (manifestPath as NSString).deletingLastPathComponent).standardizedFileURL.path + "/"
        var rows: [Shard] = []
        for (k, folder) in stores.enumerated() {
            let store = try Store(path: folder, readOnly: true)
            let stored = try store.meta().fingerprint ?? "?"
            guard stored == fingerprint else {
                throw LifelongError(
                    .modelMismatch,
                    message: "shard \(k) (\(folder)) was encoded with model \(stored), not \(fingerprint)")
            }
            let routing = try store.routing(shard: k, of: stores.count)
            if let stray = routing.strays.first {
                throw LifelongError(
                    .invalidArgument,
                    message: "shard \(k) (\(folder)) holds user '\(stray)', whose shard is "
                        + "\(shard(of: stray, count: stores.count)) of \(stores.count)")
            }
            let file = (folder as NSString).appendingPathComponent("data.mdb")
            let data: Data
            do { data = try Data(contentsOf: URL(fileURLWithPath: file), options: .alwaysMapped) } catch {
                throw LifelongError(.io, message: "\(file): cannot read (\(error.localizedDescription))")
            }
            let absolute = URL(fileURLWithPath: folder).standardizedFileURL.path
            rows.append(
                Shard(
                    shard: k, path: absolute.hasPrefix(base) ? String(absolute.dropFirst(base.count)) : absolute,
                    users: routing.users, behaviors: routing.behaviors, bytes: data.count,
                    sha256: Hashing.hex(SHA256.hash(data: data)), fingerprint: stored))
        }
        return ShardManifest(shardCount: stores.count, fingerprint: fingerprint, shards: rows)
    }

    /// What a sharded store gets wrong beyond its stores' own records, as `shard K: database/key: message`
    /// lines: a shard whose meta names another model than the manifest, a user outside its shard.
    /// - Complexity: one scan of each shard's `users`.
    public func routingFaults(manifestPath: String) throws -> [String] {
        var faults: [String] = []
        for (row, folder) in folders(manifestPath: manifestPath) {
            let store = try Store(path: folder, readOnly: true)
            if let stored = try store.meta().fingerprint, stored != fingerprint {
                faults.append("shard \(row.shard): meta/fingerprint: \(stored), the manifest says \(fingerprint)")
            }
            for user in try store.routing(shard: row.shard, of: shardCount).strays {
                faults.append(
                    "shard \(row.shard): users/\(user): belongs to shard "
                        + "\(Self.shard(of: user, count: shardCount)) of \(shardCount)")
            }
        }
        return faults
    }
}

extension Store {
    /// Users, behaviors and the users that do not belong in shard `k` of `count` (one scan of `users`).
    func routing(shard k: Int, of count: Int) throws -> (users: Int, behaviors: Int, strays: [String]) {
        var users = 0, behaviors: UInt64 = 0
        var strays: [String] = []
        try read { snapshot in
            try forEachUser(snapshot) { user, length in
                users += 1
                behaviors += length
                if ShardManifest.shard(of: user, count: count) != k { strays.append(user) }
            }
        }
        return (users, Int(behaviors), strays)
    }
}
