import ArgumentParser
import Offline
import Foundation
import LMDB
import Model
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
    @Option(help: "Store folder.") var store: String
    @Option(help: "Model bundle folder: also recompute every user's bucket sums from the sequence.") var model: String?
    @Flag(help: "No progress on stderr.") var quiet = false

    func run() throws {
        let s = try Store(path: store, readOnly: true)
        let bundle = try model.map { try ModelBundle(folder: $0) }
        let progress = ProgressLine(quiet: quiet)
        let summary = try StoreVerifier(store: s, model: bundle).verify(progress: progress.update)
        print(
            "\(store): \(summary.users) users, \(summary.behaviors) behaviors, \(summary.sequenceChunks) sequence chunks, "
                + "\(summary.items) items, \(summary.texts) text atoms; sums recomputed for \(summary.sumsRecomputed) users"
                + (bundle == nil ? " (give --model to recompute them)" : ""))
        if s.environment.staleReadersCleared > 0 {
            print(
                "cleared \(s.environment.staleReadersCleared) reader slot(s) left by processes that died inside a read transaction"
            )
        }
        for f in summary.faults { print("FAULT \(f)") }
        guard summary.faults.isEmpty else {
            print("\(summary.faults.count) fault\(summary.faults.count == 1 ? "" : "s")")
            throw ExitCode(1)
        }
        print("ok")
    }
}
