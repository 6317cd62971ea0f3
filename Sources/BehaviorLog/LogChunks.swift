import Dispatch
import Foundation

/// A log's behaviors read in chunks on every core, with the result and the first error one sequential pass
/// would give.
///
/// The lines are cut at line starts into chunks of at least `chunkBytes` (one chunk for a smaller file, so
/// small files take the same code on one thread). Each chunk is parsed alone with its own id tables: its
/// behaviors, the ids it saw first (by bytes) with their lines, and the error that stopped it. The merge then
/// walks the chunks in order: the normalization-form check (`IdentifierForms`) sees every chunk's first
/// sightings in line order — the order a sequential pass sees them — and a chunk's error is thrown after the
/// checks of the lines before it. So the error is the first one in the file, named exactly as before.
struct LogChunks {
    /// What one chunk produced besides its behaviors.
    struct Part: Sendable {
        /// Behaviors written (at the chunk's place in the log's array).
        var count = 0
        /// Ids the chunk saw first, in line order: users and items, user before item on one line.
        var firstSeen: [(isUser: Bool, id: String, line: Int)] = []
        /// The error that stopped the chunk; `firstSeen` holds the lines before it only.
        var error: Dataset.InputError?
    }

    /// Files under this many bytes (after line 1) are read in one chunk.
    static let defaultChunkBytes = 4 << 20

    /// Parses the lines of `file` from byte `offset` (line `firstNumber`) with `parse`, one call per chunk
    /// (its bytes, its first line number, and where its behaviors go: room for one per line), chunks in
    /// parallel, straight into the log's one array (then closed up over blank lines: moves, no copies).
    static func read(
        _ file: LogFile, from offset: Int, firstNumber: Int, chunkBytes: Int,
        parse: @Sendable (Range<Int>, Int, UnsafeMutablePointer<Behavior>) -> Part
    ) -> (behaviors: [Behavior], parts: [Part]) {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let chunks = file.chunks(
            of: offset..<file.byteCount, parts: max(cores, (file.byteCount - offset) / max(chunkBytes, 1)),
            minimum: chunkBytes)
        let feeds = Results<Int>(chunks.count)
        DispatchQueue.concurrentPerform(iterations: chunks.count) { k in feeds.set(k, file.lineFeeds(in: chunks[k])) }
        var firstLines = [firstNumber], starts = [0]
        for k in chunks.indices {
            firstLines.append(firstLines[k] + feeds.slots[k]!)
            starts.append(starts[k] + feeds.slots[k]! + 1)
        }
        let first = firstLines, start = starts
        let parts = Results<Part>(chunks.count)
        let behaviors = [Behavior](unsafeUninitializedCapacity: start.last!) { buffer, count in
            let base = Pointer(base: buffer.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: chunks.count) { k in
                parts.set(k, parse(chunks[k], first[k], base.base + start[k]))
            }
            var at = 0
            for k in chunks.indices {
                let n = parts.slots[k]!.count
                if start[k] != at { (base.base + at).moveInitialize(from: base.base + start[k], count: n) }
                at += n
            }
            count = at
        }
        return (behaviors, parts.slots.map { $0! })
    }

    /// What a reader's line parser writes into: the chunk's behaviors and its first sightings of ids.
    struct Writer {
        fileprivate var part = Part()
        fileprivate let out: UnsafeMutablePointer<Behavior>
        /// The chunk's ids, interned by their bytes.
        var users = IdTable(), items = IdTable(capacity: 1 << 14)

        /// Adds a behavior whose ids came from `users` and `items` (`isNew` on their first sightings).
        @inline(__always)
        mutating func add(
            user: (id: String, isNew: Bool), item: (id: String, isNew: Bool), timestamp: Double, label: Bool?,
            line: Int
        ) {
            if user.isNew { part.firstSeen.append((true, user.id, line)) }
            if item.isNew { part.firstSeen.append((false, item.id, line)) }
            (out + part.count).initialize(
                to: Behavior(user: user.id, item: item.id, timestamp: timestamp, label: label))
            part.count += 1
        }
    }

    /// The behaviors of `file` from byte `offset` (line `firstNumber`): every non-blank line through `parse`,
    /// with per-chunk `State` (made by `state`) and `Writer`, chunks in parallel; then the form check in line
    /// order. Returns the behaviors and the item ids' forms (for the catalog's check); throws the first error.
    static func behaviors<State>(
        of file: LogFile, from offset: Int, firstNumber: Int, chunkBytes: Int, state: @Sendable () -> State,
        parse: @Sendable (LogFile.Line, inout State, inout Writer) throws -> Void
    ) throws -> (behaviors: [Behavior], items: IdentifierForms) {
        let (behaviors, parts) = read(file, from: offset, firstNumber: firstNumber, chunkBytes: chunkBytes) {
            range, first, out in
            var writer = Writer(out: out), local = state()
            do {
                try file.forEachLine(in: range, firstNumber: first) { line in
                    guard !line.isBlank else { return }
                    try parse(line, &local, &writer)
                }
            } catch {
                writer.part.error = error as? Dataset.InputError ?? file.fail(nil, "\(error)")
            }
            return writer.part
        }
        var users = IdentifierForms(), items = IdentifierForms()
        try check(parts, file: file, users: &users, items: &items)
        return (behaviors, items)
    }

    /// Checks the ids of `parts` in order (into `users` and `items`); throws the first error of the file.
    static func check(_ parts: [Part], file: LogFile, users: inout IdentifierForms, items: inout IdentifierForms) throws
    {
        for part in parts {
            for seen in part.firstSeen {
                if seen.isUser {
                    try users.check(seen.id, "user", file: file, line: seen.line)
                } else {
                    try items.check(seen.id, "item", file: file, line: seen.line)
                }
            }
            if let error = part.error { throw error }
        }
    }

    private struct Pointer: @unchecked Sendable { let base: UnsafeMutablePointer<Behavior> }

    /// One slot per chunk, each written by one worker (raw memory: no exclusivity check across threads).
    private final class Results<T>: @unchecked Sendable {
        let slots: UnsafeMutableBufferPointer<T?>
        init(_ n: Int) {
            slots = .allocate(capacity: n)
            slots.initialize(repeating: nil)
        }
        deinit {
            slots.deinitialize()
            slots.deallocate()
        }
        func set(_ k: Int, _ v: T) { slots[k] = v }
    }
}
