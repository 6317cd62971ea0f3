import ArgumentParser
import Offline
import Foundation
import LMDB
import Model
import Scorer
import Store

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Check every record of a store: checksums, format, fingerprints, counts, sequences, windows (and, with --model, the bucket sums).",
        discussion: """
            Reads one consistent snapshot (safe while a writer appends). Users: magic, version, CRC-32C, model \
            fingerprint, counts summing to L for every signature, the sequence chunks contiguous with exactly L \
            behaviors in time order ending at the stored last timestamp, every item known, the window equal to \
            the last K of the sequence; with --model, the bucket sums and counts recomputed from the sequence. \
            Items, item ids and text atoms: checksums and cross-references; one text model per layer count. \
            Prints a summary and every fault as DATABASE/KEY: message; exits 1 on any fault.
            """
    )
    @Option(help: "Store folder.") var store: String?
    @Option(help: "A sharded store's manifest.json: verify every shard, and that each user lives in its shard.")
    var manifest: String?
    @Option(help: "Model bundle folder: also recompute every user's bucket sums from the sequence.") var model: String?
    @Flag(help: "No progress on stderr.") var quiet = false

    func validate() throws {
        guard (store == nil) != (manifest == nil) else { throw ValidationError("give --store or --manifest (one)") }
    }

    func run() throws {
        let bundle = try model.map { try ModelBundle(folder: $0) }
        guard let manifestPath = manifest else {
            let faults = try verify(store!, bundle)
            guard faults == 0 else {
                print("\(faults) fault\(faults == 1 ? "" : "s")")
                throw ExitCode(1)
            }
            return print("ok")
        }
        let m = try ShardManifest(contentsOf: manifestPath)
        if let bundle, bundle.fingerprintHex != m.fingerprint {
            throw ValidationError("\(manifestPath) is for model \(m.fingerprint), not \(bundle.fingerprintHex)")
        }
        var faults = 0
        for row in m.shards.sorted(by: { $0.shard < $1.shard }) {
            let folder = m.folder(of: row, manifestPath: manifestPath)
            faults += try verify(folder, bundle, prefix: "shard \(row.shard): ")
            let s = try Store(path: folder, readOnly: true)
            if let stored = try s.meta().fingerprint, stored != m.fingerprint {
                print("FAULT shard \(row.shard): meta/fingerprint: \(stored), the manifest says \(m.fingerprint)")
                faults += 1
            }
            try s.read { txn in
                try s.forEachUser(txn) { user, _ in
                    let home = ShardManifest.shard(of: user, count: m.shardCount)
                    if home != row.shard {
                        print("FAULT shard \(row.shard): users/\(user): belongs to shard \(home) of \(m.shardCount)")
                        faults += 1
                    }
                }
            }
        }
        guard faults == 0 else {
            print("\(faults) fault\(faults == 1 ? "" : "s")")
            throw ExitCode(1)
        }
        print("ok: \(m.shardCount) shards")
    }

    /// Verifies one store, printing its summary and faults; returns the number of faults.
    private func verify(_ store: String, _ bundle: ModelBundle?, prefix: String = "") throws -> Int {
        let s = try Store(path: store, readOnly: true)
        let progress = ProgressLine(quiet: quiet)
        let summary = try StoreVerifier(store: s, model: bundle).verify(progress: progress.update)
        print(
            "\(prefix)\(store): \(summary.users) users, \(summary.behaviors) behaviors, \(summary.sequenceChunks) sequence chunks, "
                + "\(summary.items) items, \(summary.texts) text atoms; sums recomputed for \(summary.sumsRecomputed) users"
                + (bundle == nil ? " (give --model to recompute them)" : ""))
        if s.environment.staleReadersCleared > 0 {
            print(
                "cleared \(s.environment.staleReadersCleared) reader slot(s) left by processes that died inside a read transaction"
            )
        }
        for f in summary.faults { print("FAULT \(prefix)\(f)") }
        return summary.faults.count
    }
}
