import Model
import Store

extension Scorer {
    /// Item rows known to the store: raw id → rows for candidates, store item id → rows for sequences.
    /// Rows are (item row, category row, text slot); for a bundle with a text projection, `textParts` holds
    /// each stored item's `W_t · x(text) + b_t` at slot store id + 1, and `b_t` at slot 0 (no text). Each
    /// candidate embedding has an entry in `table` (`CandidateTable`): the store's items by `byId`, and the
    /// vocabulary's items the store has not seen (rows (item row, 0, 0)) by `vocabularySlots`.
    struct Catalog: Sendable {
        /// One item's rows: its model rows, its slot in `textParts` (0: no text) and its candidate entry.
        struct Rows: Sendable, Equatable {
            var item: Int32, category: Int32, textSlot: Int32
            /// The `CandidateTable` entry of these rows (−1 until `completeEntries` runs).
            var entry: Int32 = -1
            static let zero = Rows(item: 0, category: 0, textSlot: 0)

            var embedding: Embedding { Embedding(item: item, category: category, textSlot: textSlot) }
        }

        /// What a candidate's vector `q` is made of: the key of its `CandidateTable` entry.
        struct Embedding: Hashable, Sendable {
            var item: Int32, category: Int32, textSlot: Int32
        }

        var byId: [String: Rows] = [:]
        var byStoreId: [Rows] = []
        var textParts: [Float] = []
        var dText = 0
        let table: CandidateTable
        /// The entry of each distinct embedding written so far.
        private var entries: [Embedding: Int32] = [:]
        /// Entry of (row, 0, 0) by vocabulary item row, for candidates the store has not seen (−1: none needed,
        /// the row's item is in `byId`).
        var vocabularySlots: [Int32] = []
        /// Ids inserted since the last `completeEntries`.
        private var pending: [String] = []

        init(model: ModelBundle) {
            dText = model.config.dText
            textParts = model.textProjectionBias  // slot 0: b_t
            table = CandidateTable(config: model.config)
        }

        mutating func insert(_ id: String, _ r: ItemRecord, textPart: [Float]?) {
            var rows = Rows(item: Int32(r.itemRow), category: Int32(r.categoryRow), textSlot: 0)
            if let textPart, dText > 0 {
                let slot = Int(r.storeId) + 1
                if textParts.count < (slot + 1) * dText {
                    textParts += Array(repeating: 0, count: (slot + 1) * dText - textParts.count)
                }
                textParts.replaceSubrange((slot * dText)..<((slot + 1) * dText), with: textPart)
                rows.textSlot = Int32(slot)
            }
            rows.entry = entries[rows.embedding] ?? -1
            if rows.entry < 0 { pending.append(id) }
            byId[id] = rows
            if Int(r.storeId) >= byStoreId.count {
                byStoreId += Array(repeating: .zero, count: Int(r.storeId) + 1 - byStoreId.count)
            }
            byStoreId[Int(r.storeId)] = rows
        }

        /// Writes the candidate entries of the items inserted since the last call (one batch of products).
        mutating func completeEntries(model: ModelBundle) {
            guard !pending.isEmpty else { return }
            let inserted = pending.compactMap { id in byId[id].map { (id, $0.embedding) } }
            for ((id, _), slot) in zip(inserted, add(inserted.map(\.1), model: model)) { byId[id]?.entry = slot }
            pending.removeAll()
        }

        /// Entries for the vocabulary's items that the store has not seen, and for row 0 (unknown items).
        mutating func addVocabularyEntries(model: ModelBundle) {
            let v = model.vocabulary
            var rows = Set<Int>([0])
            for (id, row) in v.items where byId[id] == nil { rows.insert(row) }
            let ordered = rows.sorted()
            let slots = add(ordered.map { Embedding(item: Int32($0), category: 0, textSlot: 0) }, model: model)
            vocabularySlots = [Int32](repeating: -1, count: v.maxItemRow + 1)
            for (row, slot) in zip(ordered, slots) { vocabularySlots[row] = slot }
        }

        /// The entries of `keys`, writing those not written yet.
        private mutating func add(_ keys: [Embedding], model: ModelBundle) -> [Int32] {
            var fresh: [Embedding] = [], seen = Set<Embedding>()
            for k in keys where entries[k] == nil && seen.insert(k).inserted { fresh.append(k) }
            if !fresh.isEmpty {
                let d = model.config.d
                var q = [Float](repeating: 0, count: fresh.count * d)
                q.withUnsafeMutableBufferPointer { q in
                    for (i, k) in fresh.enumerated() { embed(k, model: model, into: q.baseAddress! + i * d) }
                    let first = table.add(q.baseAddress!, fresh.count, model: model)
                    for (i, k) in fresh.enumerated() { entries[k] = first + Int32(i) }
                }
            }
            return keys.map { entries[$0]! }
        }

        /// `q = e(c)` of an embedding (MODEL.md), the text part from `textParts`.
        private func embed(_ k: Embedding, model: ModelBundle, into q: UnsafeMutablePointer<Float>) {
            let c = model.config
            model.embed(itemRow: Int(k.item), categoryRow: Int(k.category), into: q)
            guard c.dText > 0 else { return }
            textParts.withUnsafeBufferPointer {
                (q + c.dItem + c.dCat).update(from: $0.baseAddress! + Int(k.textSlot) * c.dText, count: c.dText)
            }
        }
    }
}
