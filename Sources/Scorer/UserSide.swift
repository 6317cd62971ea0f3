import Errors
import Glibc
import Model
import Store
import Synchronization
import Tensors

/// The user side of a request: the record, the pending tail and (by mode) the whole sequence, read in one
/// snapshot into the request's scratch.
extension Scorer {
    struct UserView {
        var length = 0  // the user's behaviors (record and pending tail); all in `sequenceRows` for online, full
        var window = 0  // entries in `windowRows`
    }

    /// Reads the user's record, its pending tail (and, for `online`/`full`, the whole sequence) in one read
    /// transaction. A cold user gives an empty view. The window is the last K of record window and tail; `bse`
    /// leaves the bucket sums in `scratch.sums` with the tail added; `online` rebuilds them there from the
    /// re-hashed sequence.
    func readUser(_ user: String, mode: Mode, scratch s: Scratch) throws -> UserView {
        let c = model.config
        var view = UserView()
        var newer: [(Int, UInt32)] = []  // window positions whose item is newer than this scorer's catalog
        try store.read { txn in
            let found: UserView? = try store.withUserRecord(txn, user: user) { record in
                try check(record, user: user)
                let rows = s.windowRows.ensure(Self.rowStride * max(record.windowCount, 1))
                let byStoreId = c.dText > 0 ? catalog.withLock { $0.byStoreId } : []
                for j in 0..<record.windowCount {
                    let e = record.windowEntry(j)
                    rows[Self.rowStride * j] = Int32(bitPattern: e.itemRow)
                    rows[Self.rowStride * j + 1] = Int32(bitPattern: e.categoryRow)
                    rows[Self.rowStride * j + 2] = 0
                    guard e.feedback < Feedback.count else { throw damagedFeedback(user, e.feedback) }
                    rows[Self.rowStride * j + 3] = Int32(e.feedback)
                    // Only the text slot comes from the catalog; an item newer than it is resolved below.
                    if c.dText > 0 {
                        if Int(e.item) < byStoreId.count {
                            rows[Self.rowStride * j + 2] = byStoreId[Int(e.item)].textSlot
                        } else {
                            newer.append((j, e.item))
                        }
                    }
                }
                if mode == .bse { record.copySums(into: s.sums.ensure(c.signatures * c.buckets * c.d)) }
                return UserView(length: Int(record.length), window: record.windowCount)
            }
            guard let found else { return }
            view = found
            try resolveNewerItems(txn, newer, user: user, into: s.windowRows.pointer)
            let covered = found.length, whole = mode == .online || mode == .full
            let n = try readSequence(txn, user, from: whole ? 0 : covered, scratch: s)
            let tail = whole ? n - covered : n
            guard tail >= 0, tail < Store.foldEvery else {
                throw LifelongError(
                    .damaged,
                    message:
                        "store \(store.path): user '\(user)': the record covers \(covered) behaviors, the sequence "
                        + "has \(whole ? n : covered + n) (fewer than \(Store.foldEvery) more expected)")
            }
            if tail > 0 {
                let tailRows = s.sequenceRows.pointer + Self.rowStride * (whole ? covered : 0)
                if mode == .bse { addBehaviors(tailRows, tail, scratch: s) }
                view.window = appendToWindow(view.window, tailRows, tail, scratch: s)
            }
            view.length = covered + tail
        }
        if mode == .online { rehash(view.length, scratch: s) }
        return view
    }

    /// Slides the window (its `w` rows in `scratch.windowRows`) over `n` newer rows: the last K of both.
    private func appendToWindow(_ w: Int, _ rows: UnsafePointer<Int32>, _ n: Int, scratch s: Scratch) -> Int {
        let k = model.config.window, stride = Self.rowStride
        let keep = min(w, max(k - n, 0)), take = min(n, k)
        let window = s.windowRows.ensure(stride * max(w, keep + take, 1))  // growth keeps the rows
        memmove(window, window + stride * (w - keep), 4 * stride * keep)  // overlapping: memmove
        (window + stride * keep).update(from: rows + stride * (n - take), count: stride * take)
        return keep + take
    }

    /// A feedback byte outside 0…2: a damaged record or sequence chunk (the scorer does not checksum per request).
    private func damagedFeedback(_ user: String, _ value: UInt8) -> LifelongError {
        LifelongError(
            .damaged,
            message:
                "store \(store.path): user '\(user)': a behavior has feedback \(value) (0…2 expected; a damaged "
                + "record — run `lifelong verify`)"
        )
    }

    /// Checks that a stored record belongs to this model (shape and fingerprint).
    private func check(_ record: UserRecord.View, user: String) throws {
        let c = model.config
        func fail(_ m: String) -> LifelongError {
            LifelongError(.damaged, message: "store \(store.path): user '\(user)': \(m)")
        }
        guard record.nSig == c.signatures, record.buckets == c.buckets, record.d == c.d else {
            throw fail("record shape differs from the model's")
        }
        guard record.hasFingerprint(model.fingerprint) else {
            throw fail("record was encoded with another model; re-encode the store")
        }
    }

    /// The user's sequence from `position` on as (item row, category row, text slot, feedback) rows in
    /// `scratch.sequenceRows`; returns how many (no allocation unless an item is newer than the catalog).
    private func readSequence(
        _ txn: borrowing Store.Snapshot, _ user: String, from position: Int, scratch s: Scratch
    ) throws -> Int {
        var n = 0
        var unknown: [(Int, UInt32)] = []
        let byStoreId = catalog.withLock { $0.byStoreId }
        try store.forEachSequenceEntry(txn, user: user, from: position) { entry in
            let rows = s.sequenceRows.ensure(Self.rowStride * (n + 1))  // growth keeps the rows
            let id = entry.item
            guard entry.feedback < Feedback.count else { throw damagedFeedback(user, entry.feedback) }
            rows[Self.rowStride * n + 3] = Int32(entry.feedback)
            if Int(id) < byStoreId.count {
                rows[Self.rowStride * n] = byStoreId[Int(id)].item
                rows[Self.rowStride * n + 1] = byStoreId[Int(id)].category
                rows[Self.rowStride * n + 2] = byStoreId[Int(id)].textSlot
            } else {
                unknown.append((n, id))  // an item added after this scorer loaded its catalog
            }
            n += 1
        }
        try resolveNewerItems(txn, unknown, user: user, into: s.sequenceRows.pointer)
        return n
    }

    /// Items the user's record names that arrived after this scorer loaded its catalog (another process
    /// appended them): reads their records in `txn`, adds them to the catalog (text part included) and fills
    /// their (item row, category row, text slot) at the given positions of `rows`.
    private func resolveNewerItems(
        _ txn: borrowing Store.Snapshot, _ items: [(position: Int, id: UInt32)], user: String,
        into rows: UnsafeMutablePointer<Int32>
    ) throws {
        for (position, id) in items {
            guard let raw = try store.itemId(txn, storeId: id), let r = try store.itemRecord(txn, item: raw) else {
                throw LifelongError(
                    .damaged,
                    message:
                        "store \(store.path): user '\(user)': the record names store item \(id), which has no item "
                        + "record"
                )
            }
            let part = try Self.textPart(of: r, model: model, store: store, txn)
            let stored = catalog.withLock { c -> Catalog.Rows in
                c.insert(raw, r, textPart: part)
                c.completeEntries(model: model)
                return c.byStoreId[Int(r.storeId)]
            }
            rows[Self.rowStride * position] = stored.item
            rows[Self.rowStride * position + 1] = stored.category
            rows[Self.rowStride * position + 2] = stored.textSlot
        }
    }

    /// `online`: rebuilds the bucket sums from the sequence (`n` rows of `scratch.sequenceRows`), so `online`
    /// adds exactly what `encode` added.
    private func rehash(_ n: Int, scratch s: Scratch) {
        let c = model.config
        s.sums.ensure(c.signatures * c.buckets * c.d).update(repeating: 0, count: c.signatures * c.buckets * c.d)
        if n > 0 { addBehaviors(s.sequenceRows.pointer, n, scratch: s) }
    }

    /// Adds `n` behaviors (`rows`) to the bucket sums in `scratch.sums`, in order: embed, hash (one GEMM), add
    /// the feedback rows (v2: the hash is of `e(item)`, the sums of `e(item) + F[feedback]`), then the
    /// encoder's own aggregation — the same floats, in the same order, as the encoder's.
    private func addBehaviors(_ rows: UnsafePointer<Int32>, _ n: Int, scratch s: Scratch) {
        let c = model.config
        let nRows = c.signatures * c.buckets
        let x = s.behaviors.ensure(n * c.d)
        embedRows(rows, n, behaviors: false, into: x)
        let signatures = s.signatures.ensure(n * c.signatures)
        model.signatures(of: x, count: n, projections: s.projections.ensure(n * c.m), into: signatures)
        if c.feedback {
            for j in 0..<n { model.addFeedback(UInt8(rows[Self.rowStride * j + 3]), to: x + j * c.d) }
        }
        let order = s.order.ensure(n)
        for j in 0..<n { order[j] = j }
        let counts = s.counts.ensure(nRows)
        counts.update(repeating: 0, count: nRows)
        SimHash.aggregate(
            count: n, vectors: x, signatures: signatures, rows: order, nSig: c.signatures, buckets: c.buckets, d: c.d,
            counts: counts, sums: s.sums.pointer)
    }
}
