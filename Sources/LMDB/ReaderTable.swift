internal import CLMDB

/// One slot of the store's reader table (`lock.mdb`), as `mdb_reader_list` reports it.
public struct ReaderSlot: Equatable, Sendable {
    /// The process that took the slot (it may have died since: `clearStaleReaders` frees such slots).
    public var process: Int32
    /// The snapshot its read transaction holds, or `nil` while the slot is kept for a later read.
    public var snapshot: UInt64?
}

extension Environment {
    /// The reader table's slots in use, by every process that has the store open (`mdb_reader_list`).
    public func readerSlots() throws -> [ReaderSlot] {
        final class Text { var lines = "" }
        let text = Text()
        try withExtendedLifetime(text) {
            try call("mdb_reader_list") {
                mdb_reader_list(
                    env,
                    { message, context in
                        guard let message, let context else { return 0 }
                        Unmanaged<Text>.fromOpaque(context).takeUnretainedValue().lines += String(cString: message)
                        return 0
                    }, Unmanaged.passUnretained(text).toOpaque())
            }
        }
        // Lines are "%10d %zx %s": pid, thread, then the snapshot's txnid or "-"; a header and
        // "(no active readers)" carry no pid.
        return text.lines.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count == 3, let process = Int32(fields[0]) else { return nil }
            return ReaderSlot(process: process, snapshot: UInt64(fields[2]))
        }
    }
}
