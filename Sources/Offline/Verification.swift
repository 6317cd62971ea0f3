import BehaviorLog
import LMDB
import Model
import Store
import Tensors

/// One run of `StoreVerifier.verify`: one check per database, each adding its faults to `summary`, inside one
/// read transaction. The items checked first are what the users' checks look their behaviors up in.
final class Verification {
    let store: Store
    let maximumFaults: Int
    var summary = StoreVerifier.Summary()
    /// Store id → item record, from `items`.
    private var itemById: [UInt32: ItemRecord] = [:]
    /// The model's view of every item for recomputing sums: store id → the item's index in `table`.
    private var vectorOf: [UInt32: Int] = [:]
    private var table: BehaviorTable?
    private var usersSeen = Set<String>()

    init(store: Store, maximumFaults: Int) {
        self.store = store
        self.maximumFaults = maximumFaults
    }

    func fault(_ key: String, _ message: String) {
        if summary.faults.count < maximumFaults {
            summary.faults.append(StoreVerifier.Fault(key: key, message: message))
        }
    }

    /// `meta`: the format, and the fingerprint (the given model's, if there is one); nil when the fingerprint is
    /// unreadable, which ends the run.
    func checkMeta(model: ModelBundle?) throws -> [UInt8]? {
        let meta = try store.metaValues()
        if meta["format"] != Store.format {
            fault("meta/format", "is \(meta["format"].map { "'\($0)'" } ?? "missing"), expected '\(Store.format)'")
        }
        for (key, value) in meta where key.hasPrefix(Store.sourcePrefix) {
            guard Store.parseSourceOffset(value.utf8) == nil else { continue }
            fault(
                "meta/\(key)",
                "is damaged: '\(value.prefix(40))' is not the offset (an integer ≥ 0) of the source's last applied "
                    + "event")
        }
        guard let hex = meta["fingerprint"], let fingerprint = StoreVerifier.bytes(hex: hex) else {
            fault("meta/fingerprint", "missing or not 64 hex digits")
            return nil
        }
        if let model, model.fingerprint != fingerprint {
            fault(
                "meta/fingerprint",
                "the store was encoded with model \(hex), the given model is \(model.fingerprintHex)")
        }
        return fingerprint
    }

    /// `items`: each record decodes, was made with the store's model, has its own store id, and `item_ids`
    /// maps that id back to it.
    func checkItems(_ txn: borrowing Transaction, fingerprint: [UInt8]) throws {
        try txn.scan(store.items) { k, v in
            let id = String(decoding: k, as: UTF8.self)
            summary.items += 1
            guard let r = try? ItemRecord(decoding: v) else {
                fault("items/\(id)", "does not decode (magic, size or checksum)")
                return .next
            }
            if r.fingerprint != fingerprint { fault("items/\(id)", "made with another model") }
            if itemById.updateValue(r, forKey: r.storeId) != nil {
                fault("items/\(id)", "store id \(r.storeId) is used by another item too")
            }
            let back = try txn.get(store.itemIds, r.storeId) { String(decoding: $0, as: UTF8.self) }
            if back != id {
                fault("items/\(id)", "item_ids[\(r.storeId)] is \(back.map { "'\($0)'" } ?? "missing")")
            }
            return .next
        }
    }

    /// `item_ids`: u32 keys, each naming an item that has a record.
    func checkItemIds(_ txn: borrowing Transaction) throws {
        try txn.scan(store.itemIds) { k, v in
            guard k.count == 4 else {
                fault("item_ids/\(Hashing.hex(Array(k)))", "key is not a u32")
                return .next
            }
            let id = k.loadUnaligned(as: UInt32.self).bigEndian
            if itemById[id] == nil {
                fault("item_ids/\(id)", "names '\(String(decoding: v, as: UTF8.self))', which has no item record")
            }
            return .next
        }
    }

    /// `texts`: checksums, and one text model per layer count (two models at the same K overwrite each other).
    func checkTexts(_ txn: borrowing Transaction) throws {
        guard let texts = store.texts else { return }
        var textModelOfLayers: [Int: [UInt8]] = [:]
        try txn.scan(texts) { k, v in
            summary.texts += 1
            let key = "texts/\(Hashing.hex(Array(k)))"
            guard let r = try? TextVectorRecord(decoding: v) else {
                fault(key, "does not decode (magic, size or checksum)")
                return .next
            }
            if let first = textModelOfLayers[r.layers], first != r.modelFingerprint {
                fault(
                    key,
                    "made by text model \(Hashing.hex(r.modelFingerprint).prefix(16))…, other atoms at K = "
                        + "\(r.layers) by \(Hashing.hex(first).prefix(16))…")
            } else {
                textModelOfLayers[r.layers] = r.modelFingerprint
            }
            return .next
        }
    }

    /// The model's vector of every item (its text atom from `texts`), for recomputing the users' sums.
    func prepareRecomputation(_ txn: borrowing Transaction, model: ModelBundle) throws {
        let c = model.config
        var vectors: [Float] = []
        for (id, r) in itemById.sorted(by: { $0.key < $1.key }) {
            var v = [Float](repeating: 0, count: c.d)
            var text: [Float]?
            if c.dText > 0, let hash = r.textHash {
                text = try store.textAtom(txn, hash: hash, layers: c.textLayers ?? 0)?.vector
                if text == nil { fault("items/\(id)", "its text atom is missing from the texts cache") }
            }
            v.withUnsafeMutableBufferPointer { out in
                if let text {
                    text.withUnsafeBufferPointer {
                        model.embed(
                            itemRow: Int(r.itemRow), categoryRow: Int(r.categoryRow), text: $0.baseAddress!,
                            into: out.baseAddress!)
                    }
                } else {
                    model.embed(itemRow: Int(r.itemRow), categoryRow: Int(r.categoryRow), into: out.baseAddress!)
                }
            }
            vectorOf[id] = vectors.count / c.d
            vectors += v
        }
        table = model.behaviorTable(
            vectors: vectors, signatures: model.signatures(ofRows: vectors, count: vectorOf.count),
            count: vectorOf.count)
    }

    /// `users` and their `sequences` chunks, one user at a time.
    func checkUsers(
        _ txn: borrowing Transaction, fingerprint: [UInt8], model: ModelBundle?, progress: ((Int, Int) -> Void)?
    ) throws {
        let total = try txn.count(store.users)
        try txn.scan(store.users) { k, v in
            let user = String(decoding: k, as: UTF8.self)
            let key = "users/\(user)"
            usersSeen.insert(user)
            summary.users += 1
            defer { progress?(summary.users, total) }
            let record: UserRecord
            do { record = try UserRecord(decoding: v) } catch {
                fault(key, "\(error)")
                return .next
            }
            checkRecord(record, key: key, fingerprint: fingerprint, model: model)
            let sequence = try readSequence(txn, user: user, key: key)
            summary.behaviors += sequence.items.count
            checkSequence(sequence, of: record, key: key)
            if let model, items(of: sequence, canBeRecomputedFor: record) {
                let precision = (try? UserRecord.View(v))?.precision ?? .f32
                checkSums(record, sequence, key: key, model: model, fingerprint: fingerprint, precision: precision)
            }
            return .next
        }
    }

    /// The record alone: its model, its shape against the model's, counts summing to L for every signature.
    private func checkRecord(_ record: UserRecord, key: String, fingerprint: [UInt8], model: ModelBundle?) {
        if record.fingerprint != fingerprint { fault(key, "made with another model") }
        if let c = model?.config,
            record.nSig != c.signatures || record.buckets != c.buckets || record.d != c.d
                || record.windowCapacity != c.window
        {
            fault(
                key,
                "shape (n_sig \(record.nSig), buckets \(record.buckets), d \(record.d), K "
                    + "\(record.windowCapacity)) differs from the model's")
        }
        for g in 0..<record.nSig {
            let n = record.counts[(g * record.buckets)..<((g + 1) * record.buckets)].reduce(0) { $0 + Int($1) }
            if n != Int(record.length) {
                fault(key, "signature \(g): counts sum to \(n), L is \(record.length)")
                break
            }
        }
    }

    /// A user's behaviors as its sequence chunks hold them, and whether they were in time order.
    struct Sequence {
        var items: [UInt32] = [], feedback: [UInt8] = [], timestamps: [Double] = []
        var ordered = true
    }

    /// The user's chunks in key order: contiguous indices from 0, each full but the last.
    private func readSequence(_ txn: borrowing Transaction, user: String, key: String) throws -> Sequence {
        let prefix = Store.sequencePrefix(user: user)
        var sequence = Sequence(), chunk: UInt32 = 0, shortChunk = false
        try txn.scan(store.sequences, prefix: prefix) { ck, cv in
            summary.sequenceChunks += 1
            let index =
                ck.count == prefix.count + 4
                ? ck.loadUnaligned(fromByteOffset: prefix.count, as: UInt32.self).bigEndian : UInt32.max
            if index != chunk {
                let found = index == .max ? "a malformed key" : "chunk \(index)"
                fault(key, "sequence chunk \(chunk) is missing (found \(found))")
            }
            chunk = index &+ 1
            if shortChunk { fault(key, "sequence chunk \(index) follows a chunk that is not full") }
            let entries = cv.count / Store.sequenceEntrySize
            if cv.count % Store.sequenceEntrySize != 0 || entries == 0 || entries > Store.chunkCapacity {
                fault(key, "sequence chunk \(index) has \(cv.count) bytes")
            }
            shortChunk = entries < Store.chunkCapacity
            for e in 0..<entries {
                let entry = Store.sequenceEntry(cv, e)
                if let last = sequence.timestamps.last, entry.timestamp < last { sequence.ordered = false }
                sequence.items.append(entry.item)
                sequence.feedback.append(entry.feedback)
                sequence.timestamps.append(entry.timestamp)
            }
            return .next
        }
        return sequence
    }

    /// The sequence against the record: the record's L behaviors and a pending tail shorter than
    /// `Store.foldEvery`, in time order, the L-th at the record's last timestamp, every item known, feedback in
    /// range, the window the last K of the first L with its items' rows.
    private func checkSequence(_ sequence: Sequence, of record: UserRecord, key: String) {
        let covered = min(Int(record.length), sequence.items.count)
        let items = sequence.items[..<covered], feedback = sequence.feedback[..<covered]
        if sequence.items.count < Int(record.length) || sequence.items.count - covered >= Store.foldEvery {
            fault(
                key,
                "the record covers L = \(record.length), the sequence holds \(sequence.items.count) (the pending "
                    + "tail must be shorter than \(Store.foldEvery))")
        }
        if !sequence.ordered { fault(key, "the sequence is not in time order") }
        if covered > 0, sequence.timestamps[covered - 1] != record.lastTimestamp {
            fault(
                key,
                "last timestamp \(Behavior.text(ofTimestamp: record.lastTimestamp)) differs from the "
                    + "sequence's \(Behavior.text(ofTimestamp: sequence.timestamps[covered - 1])) at L")
        }
        // `index(forKey:)`, not `itemById[id]`: a lookup per behavior must not copy the item's record.
        if let unknown = sequence.items.first(where: { itemById.index(forKey: $0) == nil }) {
            fault(key, "the sequence names store item \(unknown), which has no item record")
        }
        if let bad = sequence.feedback.first(where: { Feedback(rawValue: $0) == nil }) {
            fault(key, "the sequence holds feedback \(bad) (0 unknown, 1 not clicked, 2 clicked)")
        }
        let tail = zip(items, feedback).suffix(record.windowCapacity)
        if record.window.count != tail.count
            || zip(record.window, tail).contains(where: { $0.item != $1.0 || $0.feedback != $1.1 })
        {
            fault(key, "the window is not the last \(tail.count) behaviors of the sequence")
        } else if let bad = record.window.first(where: { e in
            itemById[e.item].map { $0.itemRow != e.itemRow || $0.categoryRow != e.categoryRow } ?? false
        }) {
            fault(key, "window entry for store item \(bad.item) has rows that differ from its item record")
        }
    }

    /// Whether the sums can be recomputed: the model's table is ready, the sequence holds the record's L and every
    /// one of its items and feedback values is known.
    private func items(of sequence: Sequence, canBeRecomputedFor record: UserRecord) -> Bool {
        table != nil && sequence.items.count >= Int(record.length)
            && sequence.items.allSatisfy({ vectorOf[$0] != nil })
            && sequence.feedback.allSatisfy({ Feedback(rawValue: $0) != nil })
    }

    /// The bucket counts and sums recomputed from the sequence with the model, against the record's.
    private func checkSums(
        _ record: UserRecord, _ sequence: Sequence, key: String, model: ModelBundle, fingerprint: [UInt8],
        precision: UserRecord.Precision
    ) {
        guard let table else { return }
        let c = model.config
        var fresh = UserRecord(
            nSig: c.signatures, buckets: c.buckets, d: c.d, windowCapacity: 0, fingerprint: fingerprint)
        let rows = zip(sequence.items, sequence.feedback).prefix(Int(record.length)).map {
            table.row(item: vectorOf[$0.0]!, feedback: $0.1)
        }
        table.vectors.withUnsafeBufferPointer { v in
            table.signatures.withUnsafeBufferPointer { sig in
                rows.withUnsafeBufferPointer { r in
                    fresh.append(
                        count: r.count, vectors: v.baseAddress!, signatures: sig.baseAddress!,
                        rows: r.baseAddress!, timestamp: 0
                    ) { _ in
                        .init(item: 0, itemRow: 0, categoryRow: 0)
                    }
                }
            }
        }
        summary.sumsRecomputed += 1
        if fresh.counts != record.counts {
            fault(key, "bucket counts differ from the sequence re-hashed with the model")
        }
        // Sums are added in another order by append than by encode; f16 stores round each sum.
        let relative: Float = precision == .f16 ? 2e-3 : 1e-4
        for r in 0..<(c.signatures * c.buckets) {
            let a = record.sums[(r * c.d)..<((r + 1) * c.d)], b = fresh.sums[(r * c.d)..<((r + 1) * c.d)]
            let scale = b.reduce(0) { max($0, abs($1)) } + Float(fresh.counts[r]) * 1e-3
            if zip(a, b).contains(where: { abs($0 - $1) > relative * max(scale, 1e-3) }) {
                fault(
                    key,
                    "bucket sums of signature \(r / c.buckets), bucket \(r % c.buckets) differ from the "
                        + "sequence re-hashed with the model")
                break
            }
        }
    }

    /// `sequences`: well-formed keys, none without its user (run after `checkUsers`).
    func checkOrphanChunks(_ txn: borrowing Transaction) throws {
        try txn.scan(store.sequences) { k, _ in
            if let zero = k.firstIndex(of: 0) {
                let user = String(decoding: UnsafeRawBufferPointer(rebasing: k[..<zero]), as: UTF8.self)
                if !usersSeen.contains(user) {
                    fault("sequences/\(user)", "a sequence chunk without a user record")
                }
            } else {
                fault("sequences/\(Hashing.hex(Array(k)))", "malformed key (no 0 byte after the user id)")
            }
            return .next
        }
    }
}
