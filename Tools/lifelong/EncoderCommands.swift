import ArgumentParser
import BehaviorLog
import Foundation
import Model
import Offline
import Store

struct InitModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init-model",
        abstract:
            "Write a randomly initialised lifelong.model.v1 (or, with --feedback, v2) bundle whose vocabulary is the "
            + "data's items and categories."
    )
    @OptionGroup var input: DataOptions
    @Option(help: "Bundle folder to write (model.safetensors + vocab.tsv).") var out: String
    @Option(help: "Seed for the projection (recorded as projection_seed) and the weights.") var seed: UInt64 = 1
    @OptionGroup var shape: ShapeOptions

    func run() throws {
        let data = try Dataset.load(input.data, ratingThreshold: input.ratingThreshold)
        let bundle = try ModelBundle.writeRandom(
            to: out, vocabulary: data.vocabularyIds, shape: shape.shape, seed: seed)
        print(
            "wrote \(out): \(bundle.vocabulary.items.count) items, \(bundle.vocabulary.categories.count) categories, "
                + "d = \(bundle.config.d), fingerprint \(bundle.fingerprintHex)")
    }
}

struct Encode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Encode a behavior log into an LMDB store: per-user SDIM bucket sums and counts, last-K window, full "
            + "sequence."
    )
    @OptionGroup var folders: ModelStoreOptions
    @OptionGroup var input: DataOptions
    @Option(help: "Keep only users whose stable hash (FNV-1a-64 of the UTF-8 id) mod N is K, written K/N.")
    var shard: ShardOption?
    @Option(help: "Users per write transaction.") var batch = 256
    @Option(help: "Bucket-sum precision: f32 or f16.") var precision: PrecisionOption = .f32
    @OptionGroup var text: TextModelOption
    @Flag(help: "No progress on stderr.") var quiet = false

    func validate() throws {
        guard batch > 0 else { throw ValidationError("--batch must be positive") }
    }

    func run() throws {
        let store = try folders.single("encode")
        let bundle = try ModelBundle(folder: folders.model)
        let data = try Dataset.load(input.data, ratingThreshold: input.ratingThreshold)
        let encoder = try BehaviorEncoder(
            model: bundle, store: try Store(path: store), precision: precision.value,
            textModel: try text.load(for: bundle))
        let report = try encoder.encode(
            data, shard: shard.map { ($0.index, $0.count) }, batch: batch, progress: ProgressLine(quiet: quiet).update)
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
        let textModel = try text.load(for: bundle)
        guard let manifestPath = folders.manifest else {
            let encoder = try BehaviorEncoder.appending(
                to: try folders.single("append"), model: bundle, textModel: textModel)
            let report = try encoder.append(data, batch: batch, progress: ProgressLine(quiet: quiet).update)
            return print("appended \(report)")
        }
        let reports = try BehaviorEncoder.append(
            data, manifestPath: manifestPath, model: bundle, textModel: textModel, batch: batch
        ) { _ in ProgressLine(quiet: quiet).update }
        for (shard, report) in reports { print("shard \(shard): appended \(report)") }
    }
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Summarise a store, or print one user's record.")
    @Option(help: "Store folder.") var store: String
    @Option(help: "A user id to print.") var user: String?
    @Flag(help: "JSON output.") var json = false

    func run() throws {
        let s = try Store(path: store, readOnly: true)
        if let user {
            guard
                let (r, pending, last) = try s.read({ txn -> (UserRecord, Int, Double)? in
                    guard let r = try s.userRecord(txn, user: user) else { return nil }
                    var last = r.lastTimestamp
                    let pending = try s.forEachSequenceEntry(txn, user: user, from: Int(r.length)) {
                        last = $0.timestamp
                    }
                    return (r, pending, last)
                })
            else {
                throw ValidationError("user '\(user)' is not in \(store)")
            }
            let counts = stride(from: 0, to: r.counts.count, by: r.buckets).map {
                Array(r.counts[$0..<($0 + r.buckets)])
            }
            let object: [String: Any] = [
                "user": user, "length": Int(r.length) + pending, "pending": pending, "last_timestamp": last,
                "bucket_counts": counts, "window": r.window.map { $0.item },
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            return print(String(decoding: data, as: UTF8.self))
        }
        let summary = try s.summary()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return print(String(decoding: try encoder.encode(summary), as: UTF8.self))
        }
        let object = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(summary)) as? [String: Any] ?? [:]
        for k in object.keys.sorted() where k != "sources" { print("\(k): \(object[k]!)") }
        for (name, offset) in summary.sources.sorted(by: { $0.key < $1.key }) {
            print("source \(name): " + (offset.map { "offset \($0)" } ?? "offset damaged (`lifelong verify` names it)"))
        }
    }
}
