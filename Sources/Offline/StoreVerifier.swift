import Tensors
import BehaviorLog
import Foundation
import LMDB
public import Model
public import Store

/// `lifelong verify`: reads every record of a store in one read transaction (a consistent snapshot, so it
/// can run while a writer appends) and reports every fault by its key.
///
/// - meta: format and fingerprint (and, given a model, that it is the model's);
/// - items / item_ids: checksum, the two maps agree, the model fingerprint;
/// - texts: checksum, and one text model per layer count (two models at the same K overwrite each other);
/// - users: magic, version, checksum, fingerprint, shape, counts summing to L for every signature, the
///   sequence chunks contiguous and holding exactly L behaviors in time order ending at the last timestamp,
///   every item known, the window = the last K of the sequence; given the model, the bucket sums and
///   counts recomputed from the sequence.
/// - sequences: no chunk without its user.
public struct StoreVerifier {
    public struct Fault: CustomStringConvertible, Sendable, Equatable {
        /// `database/key`, e.g. `users/u17`.
        public var key: String
        public var message: String
        public var description: String { "\(key): \(message)" }
    }

    public struct Summary: Sendable {
        public var users = 0, behaviors = 0, items = 0, texts = 0, sequenceChunks = 0
        /// Users whose bucket sums were recomputed from their sequence (needs the model).
        public var sumsRecomputed = 0
        public var faults: [Fault] = []
    }

    public let store: Store
    public let model: ModelBundle?
    /// Fault lists stop growing here (the count goes on).
    public var maximumFaults = 1000

    public init(store: Store, model: ModelBundle? = nil) {
        self.store = store
        self.model = model
    }

    /// Progress: (users checked, users in the store).
    public func verify(progress: ((Int, Int) -> Void)? = nil) throws -> Summary {
        var s = Summary()
        func fault(_ key: String, _ message: String) {
            if s.faults.count < maximumFaults { s.faults.append(Fault(key: key, message: message)) }
        }
        let meta = try store.metaValues()
        if meta["format"] != Store.format {
            fault("meta/format", "is \(meta["format"].map { "'\($0)'" } ?? "missing"), expected '\(Store.format)'")
        }
        guard let fingerprintHex = meta["fingerprint"], let fingerprint = Self.bytes(hex: fingerprintHex) else {
            fault("meta/fingerprint", "missing or not 64 hex digits")
            return s
        }
        if let model, model.fingerprint != fingerprint {
            fault(
                "meta/fingerprint",
                "the store was encoded with model \(fingerprintHex), the given model is \(model.fingerprintHex)")
        }
        let recompute = model.map { $0.fingerprint == fingerprint } ?? false

        try store.environment.read { txn in
            // Items, both directions.
            var itemById: [UInt32: ItemRecord] = [:]
            try txn.scan(store.items) { k, v in
                let id = String(decoding: k, as: UTF8.self)
                s.items += 1
                guard let r = try? ItemRecord(decoding: v) else {
                    fault("items/\(id)", "does not decode (magic, size or checksum)"); return .next
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
            try txn.scan(store.itemIds) { k, v in
                guard k.count == 4 else { fault("item_ids/\(Hashing.hex(Array(k)))", "key is not a u32"); return .next }
                let id = k.loadUnaligned(as: UInt32.self).bigEndian
                if itemById[id] == nil {
                    fault("item_ids/\(id)", "names '\(String(decoding: v, as: UTF8.self))', which has no item record")
                }
                return .next
            }

            // Text atoms: checksums, one text model per layer count.
            var textModelOfLayers: [Int: [UInt8]] = [:]
            if let texts = store.texts {
                try txn.scan(texts) { k, v in
                    s.texts += 1
                    let key = "texts/\(Hashing.hex(Array(k)))"
                    guard let r = try? TextVectorRecord(decoding: v) else {
                        fault(key, "does not decode (magic, size or checksum)"); return .next
                    }
                    if let first = textModelOfLayers[r.layers], first != r.modelFingerprint {
                        fault(
                            key,
                            "made by text model \(Hashing.hex(r.modelFingerprint).prefix(16))…, other atoms at K = "
                                + "\(r.layers) by \(Hashing.hex(first).prefix(16))…"
                        )
                    } else {
                        textModelOfLayers[r.layers] = r.modelFingerprint
                    }
                    return .next
                }
            }

            // The model's view of every item, for recomputing sums.
            var vectorOf: [UInt32: Int] = [:]  // store id → the item's index in `table`
            var table: BehaviorTable?
            if recompute, let model {
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
                            model.embed(
                                itemRow: Int(r.itemRow), categoryRow: Int(r.categoryRow), into: out.baseAddress!)
                        }
                    }
                    vectorOf[id] = vectors.count / c.d
                    vectors += v
                }
                table = model.behaviorTable(
                    vectors: vectors, signatures: model.signatures(ofRows: vectors, count: vectorOf.count),
                    count: vectorOf.count)
            }

            // Users and their sequences.
            let total = try txn.count(store.users)
            var usersSeen = Set<String>()
            try txn.scan(store.users) { k, v in
                let user = String(decoding: k, as: UTF8.self)
                let key = "users/\(user)"
                usersSeen.insert(user)
                s.users += 1
                defer { progress?(s.users, total) }
                let record: UserRecord
                do { record = try UserRecord(decoding: v) } catch { fault(key, "\(error)"); return .next }
                s.behaviors += Int(record.length)
                if record.fingerprint != fingerprint { fault(key, "made with another model") }
                if let c = model?.config,
                    record.nSig != c.signatures || record.buckets != c.buckets || record.d != c.d
                        || record.windowCapacity != c.window
                {
                    fault(
                        key,
                        "shape (n_sig \(record.nSig), buckets \(record.buckets), d \(record.d), K "
                            + "\(record.windowCapacity)) differs from the model's"
                    )
                }
                for g in 0..<record.nSig {
                    let n = record.counts[(g * record.buckets)..<((g + 1) * record.buckets)].reduce(0) { $0 + Int($1) }
                    if n != Int(record.length) {
                        fault(key, "signature \(g): counts sum to \(n), L is \(record.length)"); break
                    }
                }

                // The sequence.
                let prefix = Store.sequencePrefix(user: user)
                var items: [UInt32] = [], feedback: [UInt8] = [], previous = -Double.infinity, chunk: UInt32 = 0,
                    ordered = true, shortChunk = false
                try txn.scan(store.sequences, prefix: prefix) { ck, cv in
                    s.sequenceChunks += 1
                    let index =
                        ck.count == prefix.count + 4
                        ? ck.loadUnaligned(fromByteOffset: prefix.count, as: UInt32.self).bigEndian : UInt32.max
                    if index != chunk {
                        fault(
                            key,
                            "sequence chunk \(chunk) is missing (found "
                                + "\(index == .max ? "a malformed key" : "chunk \(index)"))"
                        )
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
                        items.append(entry.item)
                        feedback.append(entry.feedback)
                        if entry.timestamp < previous { ordered = false }
                        previous = entry.timestamp
                    }
                    return .next
                }
                if items.count != Int(record.length) {
                    fault(key, "the record says L = \(record.length), the sequence holds \(items.count)")
                }
                if !ordered { fault(key, "the sequence is not in time order") }
                if !items.isEmpty, previous != record.lastTimestamp {
                    fault(
                        key,
                        "last timestamp \(Behavior.text(ofTimestamp: record.lastTimestamp)) differs from the "
                            + "sequence's \(Behavior.text(ofTimestamp: previous))"
                    )
                }
                // `index(forKey:)`, not `itemById[id]`: a lookup per behavior must not copy the item's record.
                if let unknown = items.first(where: { itemById.index(forKey: $0) == nil }) {
                    fault(key, "the sequence names store item \(unknown), which has no item record")
                }
                if let bad = feedback.first(where: { Feedback(rawValue: $0) == nil }) {
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

                // The sums, recomputed from the sequence with the model.
                if let table, let model, items.count == Int(record.length), items.allSatisfy({ vectorOf[$0] != nil }),
                    feedback.allSatisfy({ Feedback(rawValue: $0) != nil })
                {
                    let c = model.config
                    var fresh = UserRecord(
                        nSig: c.signatures, buckets: c.buckets, d: c.d, windowCapacity: 0, fingerprint: fingerprint)
                    let rows = zip(items, feedback).map { table.row(item: vectorOf[$0.0]!, feedback: $0.1) }
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
                    s.sumsRecomputed += 1
                    if fresh.counts != record.counts {
                        fault(key, "bucket counts differ from the sequence re-hashed with the model")
                    }
                    // Sums are added in another order by append than by encode; f16 stores round each sum.
                    let relative: Float = (try? UserRecord.View(v))?.precision == .f16 ? 2e-3 : 1e-4
                    for r in 0..<(c.signatures * c.buckets) {
                        let a = record.sums[(r * c.d)..<((r + 1) * c.d)], b = fresh.sums[(r * c.d)..<((r + 1) * c.d)]
                        let scale = b.reduce(0) { max($0, abs($1)) } + Float(fresh.counts[r]) * 1e-3
                        if zip(a, b).contains(where: { abs($0 - $1) > relative * max(scale, 1e-3) }) {
                            fault(
                                key,
                                "bucket sums of signature \(r / c.buckets), bucket \(r % c.buckets) differ from the "
                                    + "sequence re-hashed with the model"
                            )
                            break
                        }
                    }
                }
                return .next
            }
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
        return s
    }

    static func bytes(hex: String) -> [UInt8]? {
        let u = Array(hex.utf8)
        guard u.count == 64 else { return nil }
        var out: [UInt8] = []
        for i in stride(from: 0, to: 64, by: 2) {
            guard let b = UInt8(String(decoding: u[i..<(i + 2)], as: UTF8.self), radix: 16) else { return nil }
            out.append(b)
        }
        return out
    }
}
