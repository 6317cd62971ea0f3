import ArgumentParser
import Model
import Offline
import Store

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Check every record of a store: checksums, format, fingerprints, counts, sequences, windows (and, with "
            + "--model, the bucket sums).",
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
            return try finish(faults: try verify(store!, bundle), ok: "ok")
        }
        let m = try ShardManifest(contentsOf: manifestPath)
        if let bundle, bundle.fingerprintHex != m.fingerprint {
            throw ValidationError("\(manifestPath) is for model \(m.fingerprint), not \(bundle.fingerprintHex)")
        }
        var faults = 0
        for (row, folder) in m.folders(manifestPath: manifestPath) {
            faults += try verify(folder, bundle, prefix: "shard \(row.shard): ")
        }
        let routing = try m.routingFaults(manifestPath: manifestPath)
        for f in routing { print("FAULT \(f)") }
        try finish(faults: faults + routing.count, ok: "ok: \(m.shardCount) shards")
    }

    private func finish(faults: Int, ok: String) throws {
        guard faults == 0 else {
            print("\(faults) fault\(faults == 1 ? "" : "s")")
            throw ExitCode(1)
        }
        print(ok)
    }

    /// Verifies one store, printing its summary and faults; returns the number of faults.
    private func verify(_ store: String, _ bundle: ModelBundle?, prefix: String = "") throws -> Int {
        let s = try Store(path: store, readOnly: true)
        let progress = ProgressLine(quiet: quiet)
        let summary = try StoreVerifier(store: s, model: bundle).verify(progress: progress.update)
        print(
            "\(prefix)\(store): \(summary.users) users, \(summary.behaviors) behaviors, "
                + "\(summary.sequenceChunks) sequence chunks, \(summary.items) items, \(summary.texts) text atoms; "
                + "sums recomputed for \(summary.sumsRecomputed) users"
                + (bundle == nil ? " (give --model to recompute them)" : ""))
        if s.staleReadersCleared > 0 {
            print(
                "cleared \(s.staleReadersCleared) reader slot(s) left by processes that died inside a read "
                    + "transaction")
        }
        for f in summary.faults { print("FAULT \(prefix)\(f)") }
        return summary.faults.count
    }
}
