import ArgumentParser
import Foundation
import Model
import Offline
import Scorer
import Store

struct IngestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract:
            "Append a stream of events (JSON Lines) to a store, or a sharded store's shards, exactly once per "
            + "source, in group commits.",
        discussion: """
            Each line is {"user", "item", "timestamp", "label"?, "category"?, "offset"?} (the offset, an \
            integer that grows from line to line, is the line number when absent). Events go into batches of \
            up to --max-batch events or --max-delay ms, whichever comes first; a batch is one write \
            transaction that also records the source's offset, so after a crash (even SIGKILL) running the same \
            input again applies every event once: events at or below the committed offset are skipped. An event \
            older than its user's last behavior is reported on stderr with its offset and skipped; a malformed \
            line stops the run with its line number, the events before it committed. With --manifest, each \
            event goes to its user's shard (FNV-1a-64 of the user id mod the shard count), each shard keeps its \
            own offset, committed with its part of each batch. One ingest per source and store at a time. \
            Prints a JSON summary at the end.
            """)

    @OptionGroup var folders: ModelStoreOptions
    @Option(help: "The source's name (1–200 bytes, no '/'); the store keeps the offset of its last event.")
    var source: String
    @Option(help: "The events file (default: standard input).") var from: String?
    @Flag(help: "At the end of --from, wait for more lines, like tail -F (stop with a signal).") var follow = false
    @Option(help: "Events per write transaction, at most.") var maxBatch = 1000
    @Option(help: "Milliseconds from a batch's first event to its commit, at most.") var maxDelay = 100.0
    @Option(help: "full or sync: fsync per transaction; nosync: none (a power loss may lose the last batches).")
    var durability: DurabilityOption = .full
    @OptionGroup var text: TextModelOption

    func validate() throws {
        guard maxBatch >= 1, maxDelay >= 0, maxDelay.isFinite else {
            throw ValidationError("--max-batch must be ≥ 1 and --max-delay ≥ 0")
        }
        guard Store.isValidSourceName(source) else {
            throw ValidationError("--source must be 1–200 bytes of UTF-8 without NUL or '/'")
        }
        guard !follow || from != nil else { throw ValidationError("--follow needs --from FILE") }
    }

    func run() throws {
        let bundle = try ModelBundle(folder: folders.model)
        let textModel = try text.load(for: bundle)
        var locks: [SourceLock] = []
        defer { withExtendedLifetime(locks) {} }
        let scorers = try StoreScorers(
            model: bundle, source: folders.source, writable: true, durability: durability.durability,
            textModel: textModel)
        // One ingest per source and store: every store's lock is taken before anything is read.
        for shard in scorers.shards { locks.append(try SourceLock(store: shard.store, source: source)) }
        var options = Ingest.Options(source: source)
        options.maxBatch = maxBatch
        options.maxDelay = maxDelay / 1000
        options.follow = follow
        var ingest = try Ingest(scorers, options: options)
        ingest.refused = { offset, reason in
            FileHandle.standardError.write(Data("offset \(offset): refused: \(reason)\n".utf8))
        }
        let fd = from.map { open($0, O_RDONLY | O_CLOEXEC) } ?? 0
        guard fd >= 0 else {
            throw ValidationError("--from \(from ?? ""): cannot open (\(String(cString: strerror(errno))))")
        }
        defer { if from != nil { close(fd) } }
        let report = try ingest.run(fd: fd, path: from ?? "stdin")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        print(String(decoding: try encoder.encode(report), as: UTF8.self))
    }
}
