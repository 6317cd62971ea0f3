import BehaviorLog
import Errors
import Foundation
public import Scorer
import Store
import Tensors

/// `lifelong ingest`: a stream of events (`EventLine`, one JSON object per line) into the store — or the shards
/// of a sharded store, each event to its user's shard — through the scorers' batch append, exactly once per
/// source.
///
/// - Group commit: events are gathered into batches of up to `maxBatch` events or `maxDelay` seconds after
///   the batch's first event, whichever comes first; each batch is one write transaction holding its
///   behaviors and the source's offset (the last event's), so a crash leaves a batch wholly in or wholly out.
/// - Exactly once: on start, every event at or below the source's committed offset is skipped; an input
///   read again from its start after a crash therefore applies each event once. With shards, each shard keeps
///   its own offset, committed with its part of each batch, and an event is skipped by its user's shard's.
/// - A malformed line ends the run with its line number, after committing the events before it: the offset
///   never passes it. A refused event (older than its user's last behavior) is reported with its offset
///   through `refused` and skipped, never silently.
public struct Ingest {
    public struct Options: Sendable {
        /// The source's name in the store (`Store.sourceOffset`).
        public var source: String
        public var maxBatch = 1000
        /// Seconds from a batch's first event to its commit, at the latest.
        public var maxDelay = 0.1
        /// At the end of a regular file, wait for more (`tail -F`) instead of finishing.
        public var follow = false
        public init(source: String) { self.source = source }
    }

    public struct Report: Sendable, Codable, Equatable {
        public var source = ""
        /// Events appended, refused, found to be their user's last behavior already, and skipped as at or
        /// below the offset the store had committed before the run.
        public var appended = 0, refused = 0, alreadyApplied = 0, skipped = 0
        public var batches = 0
        /// The source's committed offset at the end (nil: nothing of it applied yet).
        public var offset: Int64?
        public var seconds = 0.0
    }

    /// The store's scorer, or the shards' (each event routed to its user's shard).
    public let scorers: StoreScorers
    public let options: Options
    /// Called for each refused event: its offset and the reason.
    public var refused: (Int64, String) -> Void = { _, _ in }

    public init(scorer: Scorer, options: Options) throws { try self.init(StoreScorers(scorer), options: options) }

    public init(_ scorers: StoreScorers, options: Options) throws {
        guard Store.isValidSourceName(options.source) else {
            throw LifelongError(
                .invalidArgument,
                message: "source name '\(options.source)' must be 1–200 bytes without NUL or '/'")
        }
        guard options.maxBatch >= 1, options.maxDelay >= 0, options.maxDelay.isFinite else {
            throw LifelongError(.invalidArgument, message: "max-batch must be ≥ 1 and max-delay ≥ 0")
        }
        self.scorers = scorers
        self.options = options
    }

    /// Reads `fd` (named `path` in errors) to its end — or, with `follow`, until the process is stopped.
    public func run(fd: Int32, path: String) throws -> Report {
        let started = Date()
        let committed = try scorers.shards.map { try $0.store.sourceOffset(options.source) }
        let commits = GroupCommit(scorers, maxBatch: options.maxBatch)
        defer { commits.close() }
        var run = Run(ingest: self, committed: committed, commits: commits)
        run.report.source = options.source
        // Every event at or below the least committed offset is in (nil: some shard has applied none yet).
        run.report.offset = run.committed.contains(nil) ? nil : run.committed.compactMap { $0 }.min()
        var reader = LineReader(fd: fd)
        var lineNumber = 0
        while true {
            let wait = run.pendingSince.map { max(0, options.maxDelay - Date().timeIntervalSince($0)) }
            switch try reader.next(waitingAtMost: wait, follow: options.follow) {
            case .line(let bytes):
                lineNumber += 1
                do {
                    try bytes.withUnsafeBytes { raw in
                        guard let event = try EventLine.parse(raw, file: path, line: lineNumber) else { return }
                        try run.take(event, file: path, line: lineNumber)
                    }
                } catch {
                    try run.flush()  // the events before the bad line are in; the offset stops before it
                    try run.settle()
                    throw error
                }
            case .idle: try run.flush()
            case .end:
                try run.flush()
                try run.settle()
                run.report.seconds = Date().timeIntervalSince(started)
                return run.report
            }
            if let since = run.pendingSince, Date().timeIntervalSince(since) >= options.maxDelay { try run.flush() }
        }
    }

    /// The run's state: the batch being read, the one committing, and the counts.
    struct Run {
        let ingest: Ingest
        let committed: [Int64?]
        var report = Report()
        var pending: [Scorer.Event] = [], offsets: [Int64] = []
        var pendingSince: Date?
        var previous: Int64?
        /// At most one batch commits while the next is read (double buffering): its ticket, its events'
        /// offsets and the last; after a failed commit nothing more is.
        var inFlight: (ticket: GroupCommit.Ticket, offsets: [Int64], last: Int64)?
        var failed = false
        let commits: GroupCommit

        mutating func take(_ e: EventLine, file: String, line: Int) throws {
            if let previous, e.offset <= previous {
                throw Dataset.InputError(
                    file: file, line: line, reason: "offset \(e.offset) is not above the previous event's \(previous)")
            }
            previous = e.offset
            let shard = ingest.scorers.shard(of: e.behavior.user)
            if let committed = committed[shard], e.offset <= committed {
                report.skipped += 1
                return
            }
            let b = e.behavior
            pending.append(
                .init(user: b.user, item: b.item, timestamp: b.timestamp, label: b.label, category: e.category))
            offsets.append(e.offset)
            if pendingSince == nil { pendingSince = Date() }
            if pending.count >= ingest.options.maxBatch { try flush() }
        }

        /// Hands the pending batch to the commit thread (after the one before it has committed).
        mutating func flush() throws {
            guard let last = offsets.last, !failed else { return }
            try settle()
            let source = Scorer.SourcePosition(name: ingest.options.source, offset: last)
            inFlight = (commits.submit(pending, source: source), offsets, last)
            pending.removeAll(keepingCapacity: true)
            offsets.removeAll(keepingCapacity: true)
            pendingSince = nil
        }

        /// Waits for the batch in flight and counts what became of its events; its failure is thrown here.
        mutating func settle() throws {
            guard let batch = inFlight else { return }
            inFlight = nil
            let status: [Scorer.EventStatus]
            do { status = try batch.ticket.wait() } catch {
                failed = true
                throw error
            }
            for (k, s) in status.enumerated() {
                switch s {
                case .appended: report.appended += 1
                case .alreadyApplied: report.alreadyApplied += 1
                case .refused(_, let reason):
                    report.refused += 1
                    ingest.refused(batch.offsets[k], reason)
                }
            }
            report.batches += 1
            report.offset = batch.last
        }
    }
}

/// Lines of a file descriptor, read in blocks; waits for input with `poll` so that a pending batch can be
/// committed on time while a pipe is quiet.
struct LineReader {
    enum Next { case line(Data), idle, end }
    let fd: Int32
    private var buffer = Data()
    private var start = 0  // where the unread bytes of `buffer` begin (consumed lines are dropped in bulk)
    private var chunk = [UInt8](repeating: 0, count: 1 << 16)  // one read's bytes, reused
    private var atEnd = false

    /// Seconds between two looks at the end of a followed file.
    static let followPoll = 0.001

    init(fd: Int32) { self.fd = fd }

    /// The next line (without its LF or CRLF); `.idle` when nothing came within `wait` seconds; `.end` at the
    /// end of the input (never for a regular file being followed).
    mutating func next(waitingAtMost wait: Double?, follow: Bool) throws -> Next {
        while true {
            if let nl = buffer[(buffer.startIndex + start)...].firstIndex(of: 0x0A) {
                var line = buffer[(buffer.startIndex + start)..<nl]
                if line.last == 0x0D { line = line.dropLast() }
                start = nl + 1 - buffer.startIndex
                return .line(Data(line))
            }
            if start > 0 {  // only a partial line is left: drop the consumed bytes once per read
                buffer.removeSubrange(buffer.startIndex..<(buffer.startIndex + start))
                start = 0
            }
            if atEnd {
                guard !buffer.isEmpty else { return .end }
                defer { buffer.removeAll() }
                return .line(buffer)
            }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ms = wait.map { Int32(min($0 * 1000, 60_000).rounded(.up)) } ?? -1
            let ready = poll(&p, 1, ms)
            if ready == 0 { return .idle }
            if ready < 0 {
                if errno == EINTR { continue }
                throw LifelongError(.io, message: "poll failed: \(String(cString: strerror(errno)))")
            }
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw LifelongError(.io, message: "read failed: \(String(cString: strerror(errno)))")
            }
            if n > 0 {
                buffer.append(contentsOf: chunk[0..<n])
                continue
            }
            // The end of what is there: a followed regular file may grow; anything else is finished.
            var info = stat()
            guard follow, fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
                atEnd = true
                continue
            }
            // Poll again in 1 ms (or sooner for a pending batch): what a line waits for at most before it is read.
            usleep(UInt32(min(wait ?? Self.followPoll, Self.followPoll) * 1e6))
            if wait != nil { return .idle }
        }
    }
}
