package import LMDB

/// The pending tail (docs/FORMATS.md, "User record"): a user's record covers the first L behaviors of the
/// sequence — its sums, counts, window and last timestamp are theirs — and the sequence may hold up to
/// `foldEvery − 1` more, which readers add on the fly. Event appends write only the sequence's last chunk and
/// fold the tail into the record each time it reaches `foldEvery`, so a behavior costs a few hundred bytes of
/// writes instead of the whole record (25 KiB at d = 48); bulk writers (`encode`, `append --data`) fold all.
extension Store {
    /// A tail reaching this length is folded into the record.
    package static let foldEvery = 32

    /// How many of the `pending` behaviors past the record (the stored tail and the new ones, in order) an
    /// event append folds into it: whole multiples of `foldEvery`, so the result depends on the positions
    /// alone — one append per event and one batch of the same events write the same bytes.
    package static func folded(pending: Int) -> Int { pending / foldEvery * foldEvery }

    /// Visits the entries of `user`'s sequence at positions `from` and after, in order, reading the chunks in
    /// place (no copy, no allocation); returns how many it visited. A sound store has fewer than `foldEvery`.
    @discardableResult
    package func forEachSequenceEntry(
        _ txn: borrowing Transaction, user: String, from position: Int,
        _ body: (SequenceEntry) throws -> Void
    ) throws -> Int {
        var chunk = position / Self.chunkCapacity, first = position % Self.chunkCapacity, visited = 0
        while true {
            let full = try txn.get(sequences, Self.chunkKey(user: user, chunk: UInt32(chunk))) { v -> Bool in
                let n = v.count / Self.sequenceEntrySize
                if first < n {
                    for e in first..<n { try body(Self.sequenceEntry(v, e)) }
                    visited += n - first
                }
                return n == Self.chunkCapacity
            }
            guard full == true else { return visited }
            chunk += 1
            first = 0
        }
    }

    /// Behaviors in `user`'s sequence past position `from` (the tail when `from` is the record's L).
    package func sequenceTailLength(_ txn: borrowing Transaction, user: String, from position: Int) throws -> Int {
        try forEachSequenceEntry(txn, user: user, from: position) { _ in }
    }
}

/// A `sequences` key — user id, a 0 byte, the chunk index big-endian — built on the stack when it is lent.
package struct ChunkKey: ByteView {
    let user: String
    let chunk: UInt32

    package func withByteView<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try user.withByteView { id in
            try withUnsafeTemporaryAllocation(byteCount: id.count + 5, alignment: 1) { k in
                k.copyMemory(from: id)
                k[id.count] = 0
                k.storeBytes(of: chunk.bigEndian, toByteOffset: id.count + 1, as: UInt32.self)
                return try body(UnsafeRawBufferPointer(k))
            }
        }
    }
}
