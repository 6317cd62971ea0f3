import BehaviorLog
import ArgumentParser
import Offline
import Scorer
import Foundation
import LMDB
import Model
import Store
import TextEncoder

/// Options shared by the commands that read a behavior log.
struct DataOptions: ParsableArguments {
    @Option(
        help:
            "Behavior log: a RecBole dataset folder (NAME.inter + NAME.item), a .inter file, a JSON Lines folder (behaviors.jsonl + items.jsonl) or a .jsonl file."
    )
    var data: String

    @Option(help: "RecBole 'rating' at or above which a behavior counts as a click.")
    var ratingThreshold: Double = 4
}

/// `--text-model DIR`: the text atom encoder, loaded only for a bundle with a text projection.
struct TextModelOption: ParsableArguments {
    @Option(
        help: "all-MiniLM-L6-v2 folder (config.json, vocab.txt, model.safetensors), for bundles with a text projection."
    )
    var textModel = MiniLM.defaultFolder

    func load(for bundle: ModelBundle) throws -> MiniLM? {
        bundle.config.dText > 0 ? try MiniLM(folder: textModel) : nil
    }
}

/// A one-line progress report on stderr, redrawn at most every 0.2 s.
final class ProgressLine {
    var start = Date()
    var last = Date.distantPast
    let quiet: Bool
    let unit: String
    init(quiet: Bool, unit: String = "users") {
        self.quiet = quiet
        self.unit = unit
    }

    /// Encoding progress: users done of total, and the behaviors they held.
    func update(_ done: Int, _ total: Int, _ behaviors: Int) {
        draw(done, total, String(format: "  %.0f behaviors/s", Double(behaviors) / elapsed))
    }

    /// Progress in `unit`s.
    func update(_ done: Int, _ total: Int) { draw(done, total, "") }

    /// Progress in `unit`s with a note (e.g. the running loss).
    func update(_ done: Int, _ total: Int, _ note: String) { draw(done, total, note) }

    /// Starts timing again (a new pass over the same work, e.g. the next epoch).
    func restart() {
        start = Date()
        last = .distantPast
    }

    private var elapsed: Double { max(Date().timeIntervalSince(start), 1e-9) }

    private func draw(_ done: Int, _ total: Int, _ extra: String) {
        guard !quiet, done == total || Date().timeIntervalSince(last) > 0.2 else { return }
        last = Date()
        let t = elapsed
        let eta = done > 0 ? t * Double(total - done) / Double(done) : 0
        let line =
            "\r\(done)/\(total) \(unit)  " + String(format: "%.0f", Double(done) / t) + " \(unit)/s\(extra)  ETA "
            + String(format: "%.0f", eta) + " s "
        FileHandle.standardError.write(Data(line.utf8))
        if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

/// The v1 model's shape (MODEL.md): shared by `init-model` and `train`.
struct ShapeOptions: ParsableArguments {
    @Option(help: "Item embedding width.") var dItem = 32
    @Option(help: "Category embedding width.") var dCat = 16
    @Option(help: "SimHash projections m.") var m = 48
    @Option(help: "Bits per signature τ (m/τ signatures of 2^τ buckets).") var tau = 3
    @Option(help: "Short-term window K.") var window = 50
    @Option(help: "Attention heads H.") var heads = 2
    @Option(help: "Attention width d_a.") var attentionDim = 32
    @Option(help: "MLP hidden sizes h1,h2.") var hidden = "200,80"
    @Option(
        help:
            "Text projection width d_text (0 = no text atoms; default 16 with --text-layers, else 0); item texts go through the text model's first --text-layers layers."
    ) var dText: Int?
    @Option(help: "Text model layers K run once for each distinct item text (0…6; default 2).") var textLayers: Int?
    @Flag(
        inversion: .prefixedNo,
        help:
            "Behaviors carry their feedback (a lifelong.model.v2 bundle): s = e(item) + F[unknown | not clicked | clicked]; the candidate and the signatures stay as in v1. `train`: on by default when the log has labels; `init-model`: off by default."
    ) var feedback: Bool?

    /// The shape, with feedback (v2) unless `--no-feedback`, or when neither flag is given, `feedbackByDefault`.
    func shape(feedbackByDefault: Bool) -> ModelBundle.Shape {
        var s = shape
        s.feedback = feedback ?? feedbackByDefault
        return s
    }

    var shape: ModelBundle.Shape {
        var shape = ModelBundle.Shape()
        shape.dItem = dItem; shape.dCat = dCat; shape.m = m; shape.tau = tau; shape.window = window
        shape.heads = heads; shape.attentionDim = attentionDim
        shape.dText = dText ?? (textLayers != nil ? 16 : 0)
        shape.textLayers = textLayers ?? 2
        shape.hidden = hidden.split(separator: ",").compactMap { Int($0) }
        shape.feedback = feedback ?? false
        return shape
    }

}

struct InitModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init-model",
        abstract:
            "Write a randomly initialised lifelong.model.v1 (or, with --feedback, v2) bundle whose vocabulary is the data's items and categories."
    )
    @OptionGroup var input: DataOptions
    @Option(help: "Bundle folder to write (model.safetensors + vocab.tsv).") var out: String
    @Option(help: "Seed for the projection (recorded as projection_seed) and the weights.") var seed: UInt64 = 1
    @OptionGroup var shape: ShapeOptions

    func run() throws {
        let data = try Dataset.load(input.data, ratingThreshold: input.ratingThreshold)
        let bundle = try ModelBundle.writeRandom(to: out, for: data, shape: shape.shape, seed: seed)
        print(
            "wrote \(out): \(bundle.vocabulary.items.count) items, \(bundle.vocabulary.categories.count) categories, d = \(bundle.config.d), fingerprint \(bundle.fingerprintHex)"
        )
    }
}

/// `--model DIR --store DIR | --manifest FILE`: the bundle and the store (or the sharded store) encoded with it,
/// shared by `encode`, `append` and `score`.
struct ModelStoreOptions: ParsableArguments {
    @Option(help: "Model bundle folder (model.safetensors + vocab.tsv).") var model: String
    @Option(help: "Store folder (`encode` creates it; the others need one encoded with this model).") var store: String?
    @Option(help: "A sharded store's manifest.json (`lifelong manifest`), instead of --store (not for encode).")
    var manifest: String?

    func validate() throws {
        guard (store == nil) != (manifest == nil) else { throw ValidationError("give --store or --manifest (one)") }
    }

    /// The store folder, for commands that take no manifest.
    func single(_ command: String) throws -> String {
        guard let store else { throw ValidationError("\(command) writes one store: give --store, not --manifest") }
        return store
    }
}

struct Encode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Encode a behavior log into an LMDB store: per-user SDIM bucket sums and counts, last-K window, full sequence."
    )
    @OptionGroup var folders: ModelStoreOptions
    @OptionGroup var input: DataOptions
    @Option(help: "Keep only users whose stable hash mod N is K, written K/N.") var shard: String?
    @Option(help: "Users per write transaction.") var batch = 256
    @Option(help: "Bucket-sum precision: f32 or f16.") var precision: PrecisionOption = .f32
    @OptionGroup var text: TextModelOption
    @Flag(help: "No progress on stderr.") var quiet = false

    func validate() throws {
        guard batch > 0 else { throw ValidationError("--batch must be positive") }
        _ = try parseShard(shard)
    }

    func run() throws {
        let store = try folders.single("encode")
        let bundle = try ModelBundle(folder: folders.model)
        let data = try Dataset.load(input.data, ratingThreshold: input.ratingThreshold)
        let s = try Store(path: store)
        let encoder = try BehaviorEncoder(
            model: bundle, store: s, precision: precision.value, textModel: try text.load(for: bundle))
        let progress = ProgressLine(quiet: quiet)
        let report = try encoder.encode(data, shard: try parseShard(shard), batch: batch, progress: progress.update)
        print("encoded \(report)")
    }
}

struct Append: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Append new behaviors to a store in O(m·d) each, without re-reading histories."
    )
    @OptionGroup var folders: ModelStoreOptions
    @OptionGroup var input: DataOptions
    @Option(help: "Users per write transaction.") var batch = 256
    @OptionGroup var text: TextModelOption
    @Flag(help: "No progress on stderr.") var quiet = false

    func run() throws {
        let bundle = try ModelBundle(folder: folders.model)
        let data = try Dataset.load(input.data, ratingThreshold: input.ratingThreshold)
        guard let manifestPath = folders.manifest else {
            return try append(data, to: try folders.single("append"), bundle)
        }
        // A sharded store: each user's behaviors go to the user's shard (the manifest is checked first).
        let manifest = try ShardManifest(contentsOf: manifestPath)
        var parts = [[Behavior]](repeating: [], count: manifest.shardCount)
        for b in data.behaviors { parts[ShardManifest.shard(of: b.user, count: manifest.shardCount)].append(b) }
        for row in manifest.shards.sorted(by: { $0.shard < $1.shard }) where !parts[row.shard].isEmpty {
            try append(
                Dataset(behaviors: parts[row.shard], items: data.items),
                to: manifest.folder(of: row, manifestPath: manifestPath), bundle, shard: row.shard)
        }
    }

    private func append(_ data: Dataset, to store: String, _ bundle: ModelBundle, shard: Int? = nil) throws {
        guard FileManager.default.fileExists(atPath: (store as NSString).appendingPathComponent("data.mdb")) else {
            throw ValidationError("\(store): no store here (create one with `lifelong encode`)")
        }
        let s = try Store(path: store)
        let precision = try s.meta().precision
        let encoder = try BehaviorEncoder(
            model: bundle, store: s, precision: precision, textModel: try text.load(for: bundle))
        let report = try encoder.append(data, batch: batch, progress: ProgressLine(quiet: quiet).update)
        print("\(shard.map { "shard \($0): " } ?? "")appended \(report)")
    }
}

func parseShard(_ s: String?) throws -> (index: Int, count: Int)? {
    guard let s else { return nil }
    let p = s.split(separator: "/")
    guard p.count == 2, let k = Int(p[0]), let n = Int(p[1]), n > 0, k >= 0, k < n else {
        throw ValidationError("--shard must be K/N with 0 ≤ K < N, e.g. 0/4")
    }
    return (k, n)
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Summarise a store, or print one user's record.")
    @Option(help: "Store folder.") var store: String
    @Option(help: "A user id to print.") var user: String?
    @Flag(help: "JSON output.") var json = false

    func run() throws {
        let s = try Store(path: store, readOnly: true)
        if let user {
            let record = try s.environment.read { txn in
                try txn.get(s.users, user) { try UserRecord(decoding: $0) }
            }
            guard let r = record else { throw ValidationError("user '\(user)' is not in \(store)") }
            let counts = stride(from: 0, to: r.counts.count, by: r.buckets).map {
                Array(r.counts[$0..<($0 + r.buckets)])
            }
            let object: [String: Any] = [
                "user": user, "length": r.length, "last_timestamp": r.lastTimestamp,
                "bucket_counts": counts, "window": r.window.map { $0.item },
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        let meta = try s.metaValues()
        var users = 0, behaviors: UInt64 = 0, items = 0, bytes = 0
        try s.environment.read { txn in
            users = try txn.count(s.users)
            items = try txn.count(s.items)
            for db in [s.metaDatabase, s.items, s.itemIds, s.users, s.sequences] { bytes += try txn.stat(db).bytes }
            try s.forEachUser(txn) { _, length in behaviors += length }
        }
        let summary: [String: Any] = [
            "users": users, "behaviors": behaviors, "items": items, "bytes": bytes,
            "format": meta["format"] ?? "?", "fingerprint": meta["fingerprint"] ?? "?",
            "m": meta["m"] ?? "?", "tau": meta["tau"] ?? "?", "d": meta["d"] ?? "?",
            "window": meta["window"] ?? "?", "precision": meta["precision"] ?? "?",
        ]
        if json {
            print(
                String(
                    decoding: try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys]), as: UTF8.self
                ))
        } else {
            for k in summary.keys.sorted() { print("\(k): \(summary[k]!)") }
        }
    }
}

/// `--precision`: how the bucket sums are stored.
enum PrecisionOption: String, ExpressibleByArgument, CaseIterable {
    case f32, f16
    var value: UserRecord.Precision { self == .f32 ? .f32 : .f16 }
}
