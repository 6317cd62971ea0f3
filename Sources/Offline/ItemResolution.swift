import BehaviorLog
import LMDB
import Model
import Store
import TextAtoms
import TextEncoder

/// Items event appends resolved before, by raw id (no text projection): valid while the store's last write
/// transaction is this encoder's own (`validAt`); any other writer's commit, or a bulk write, empties it.
struct ItemCache {
    struct Entry {
        var storeId: UInt32, itemRow: UInt32, categoryRow: UInt32
        var vector: [Float], signature: [UInt8]
    }
    static let capacity = 1 << 18
    var validAt = -1
    var entries: [String: Entry] = [:]
}

/// The encoder's items: every distinct item embedded and hashed once per run, its record reused or written.
extension BehaviorEncoder {
    /// The run's distinct items, in flat tables indexed like the id list given to `resolveItems`.
    struct ResolvedItems {
        var storeIds: [UInt32] = []
        var itemRows: [UInt32] = []
        var categoryRows: [UInt32] = []
        var vectors: [Float] = []  // [n, d]
        var signatures: [UInt8] = []  // [n, n_sig]
    }

    /// Embeds and hashes every distinct item of `ids` once — all of them in one BLAS product — reusing the
    /// store's records made with this model, and writes new item records. New items get store ids in the
    /// byte order of their raw ids, so the ids do not depend on the order of the log.
    /// With `newIdsInGivenOrder` (event appends), new store ids follow the order of `ids` instead (what one
    /// append per behavior gives), and items resolved by an earlier batch come from `itemCache`.
    func resolveItems(
        _ ids: [String], catalog: [String: ItemInfo], report: inout Report, newIdsInGivenOrder: Bool = false
    ) throws -> ResolvedItems {
        guard newIdsInGivenOrder, textModel == nil else {
            itemCache.entries.removeAll()  // a bulk write may rewrite any item record
            return try resolveFromStore(ids, catalog: catalog, report: &report, newIdsInGivenOrder: newIdsInGivenOrder)
        }
        if itemCache.validAt != store.environment.info.lastTransaction { itemCache.entries.removeAll() }
        // An event naming a category may change its item's record: those are read again.
        let missing = ids.filter { itemCache.entries[$0] == nil || catalog[$0]?.category != nil }
        let fresh = try resolveFromStore(missing, catalog: catalog, report: &report, newIdsInGivenOrder: true)
        if itemCache.entries.count + missing.count > ItemCache.capacity { itemCache.entries.removeAll() }
        let c = model.config
        for (i, id) in missing.enumerated() {
            itemCache.entries[id] = ItemCache.Entry(
                storeId: fresh.storeIds[i], itemRow: fresh.itemRows[i], categoryRow: fresh.categoryRows[i],
                vector: Array(fresh.vectors[(i * c.d)..<((i + 1) * c.d)]),
                signature: Array(fresh.signatures[(i * c.signatures)..<((i + 1) * c.signatures)]))
        }
        report.itemsReused += ids.count - missing.count
        var r = ResolvedItems()
        r.vectors.reserveCapacity(ids.count * c.d)
        r.signatures.reserveCapacity(ids.count * c.signatures)
        for id in ids {
            let e = itemCache.entries[id]!
            r.storeIds.append(e.storeId)
            r.itemRows.append(e.itemRow)
            r.categoryRows.append(e.categoryRow)
            r.vectors += e.vector
            r.signatures += e.signature
        }
        return r
    }

    /// `resolveItems` from the store's records alone.
    private func resolveFromStore(
        _ ids: [String], catalog: [String: ItemInfo], report: inout Report, newIdsInGivenOrder: Bool
    ) throws -> ResolvedItems {
        let c = model.config
        let n = ids.count
        let byteOrder = ids.byteOrderPermutation()
        let nextId = try store.meta().nextItemId
        var existing = [ItemRecord?](repeating: nil, count: n)
        try store.environment.read { txn in
            for i in byteOrder { existing[i] = try txn.get(store.items, ids[i], { try ItemRecord(decoding: $0) }) }
        }
        var r = ResolvedItems()
        r.vectors = [Float](repeating: 0, count: n * c.d)
        r.itemRows.reserveCapacity(n)
        r.categoryRows.reserveCapacity(n)
        var categories: [String?] = []
        categories.reserveCapacity(n)
        // Text atoms: each item's text hash (from the catalog, or the item's stored record), and x(text) per hash.
        var textHashes = [[UInt8]?](repeating: nil, count: n)
        var textVectors: [[UInt8]: [Float]] = [:]
        if let textModel {
            for i in 0..<n { textHashes[i] = catalog[ids[i]]?.text.map(MiniLM.textHash) ?? existing[i]?.textHash }
            textVectors = try textAtoms(
                ids: ids, hashes: textHashes, catalog: catalog, textModel: textModel, report: &report)
            // A stored hash whose atom is gone from the cache and whose text this run does not have: the item
            // is embedded without text, and its record says so, so the scorer embeds it the same way.
            for i in 0..<n where textHashes[i].map({ textVectors[$0] == nil }) ?? false { textHashes[i] = nil }
        }
        r.vectors.withUnsafeMutableBufferPointer { v in
            for (i, id) in ids.enumerated() {
                let category = catalog[id]?.category ?? existing[i]?.category
                let itemRow = UInt32(model.vocabulary.itemRow(id))
                let catRow = UInt32(category.map { model.vocabulary.categoryRow($0) } ?? 0)
                let text = textHashes[i].flatMap { textVectors[$0] }
                if let text {
                    text.withUnsafeBufferPointer {
                        model.embed(
                            itemRow: Int(itemRow), categoryRow: Int(catRow), text: $0.baseAddress!,
                            into: v.baseAddress! + i * c.d)
                    }
                } else {
                    model.embed(itemRow: Int(itemRow), categoryRow: Int(catRow), into: v.baseAddress! + i * c.d)
                }
                r.itemRows.append(itemRow)
                r.categoryRows.append(catRow)
                categories.append(category)
            }
        }
        r.signatures = model.signatures(ofRows: r.vectors, count: n)
        try writeItems(
            ids, order: newIdsInGivenOrder ? Array(ids.indices) : byteOrder, existing: existing,
            textHashes: textHashes, categories: categories, nextId: nextId, into: &r, report: &report)
        return r
    }

    /// `x(text)` for every distinct text hash among the items, through the store's text atom cache.
    func textAtoms(
        ids: [String], hashes: [[UInt8]?], catalog: [String: ItemInfo], textModel: MiniLM,
        report: inout Report
    ) throws -> [[UInt8]: [Float]] {
        var textOf: [[UInt8]: String] = [:]
        for (i, h) in hashes.enumerated() { if let h, let t = catalog[ids[i]]?.text { textOf[h] = t } }
        let cache = try TextAtomCache(store: store, textModel: textModel, layers: model.config.textLayers ?? 0)
        let found = try cache.vectors(for: Set(hashes.compactMap { $0 }), texts: textOf)
        report.textsFound = found.found
        report.textsComputed = found.computed
        return found.vectors
    }

    /// Gives each item its store id — its stored record's, when that was made with this model and the same rows
    /// and text — and writes the records of the others; new ids follow `order` (indices into `ids`) from `nextId`.
    private func writeItems(
        _ ids: [String], order: [Int], existing: [ItemRecord?], textHashes: [[UInt8]?], categories: [String?],
        nextId first: UInt32, into r: inout ResolvedItems, report: inout Report
    ) throws {
        let c = model.config
        var nextId = first
        r.storeIds = [UInt32](repeating: 0, count: ids.count)
        var toWrite: [(String, ItemRecord)] = []
        for i in order {
            if let e = existing[i], e.fingerprint == model.fingerprint, e.itemRow == r.itemRows[i],
                e.categoryRow == r.categoryRows[i],
                e.textHash == textHashes[i]
            {
                r.storeIds[i] = e.storeId
                report.itemsReused += 1
                continue
            }
            report.itemsEmbedded += 1
            let storeId: UInt32
            if let e = existing[i] { storeId = e.storeId } else { storeId = nextId; nextId += 1 }
            r.storeIds[i] = storeId
            let signature = Array(r.signatures[(i * c.signatures)..<((i + 1) * c.signatures)])
            toWrite.append(
                (
                    ids[i],
                    ItemRecord(
                        storeId: storeId, itemRow: r.itemRows[i], categoryRow: r.categoryRows[i],
                        fingerprint: model.fingerprint,
                        textHash: textHashes[i], signature: signature, category: categories[i])
                ))
        }
        if !toWrite.isEmpty {
            try store.environment.write { txn in
                for (id, rec) in toWrite {
                    try txn.put(store.items, id, rec.encoded())
                    try txn.put(store.itemIds, rec.storeId, id)
                }
                try txn.put(store.metaDatabase, "next_item_id", String(nextId))
            }
        }
    }
}
