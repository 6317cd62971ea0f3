import Errors
import LMDB
public import Store
public import TextEncoder

/// BAHE's atom cache: `x(text)` — the first K layers of the text model, mean-pooled — kept in the store's
/// `texts` database under the SHA-256 of the text and K. The encoder and the trainer both go through it, so a
/// text is run through the language model once per store, not once per item, user, request or training step.
public struct TextAtomCache {
    public let store: Store
    public let textModel: MiniLM
    public let layers: Int

    public struct Lookup: Sendable {
        /// Text hash → x(text) (`textModel.config.hidden` floats).
        public var vectors: [[UInt8]: [Float]] = [:]
        /// Texts run through the language model now, and texts found in the cache.
        public var computed = 0, found = 0
    }

    public init(store: Store, textModel: MiniLM, layers: Int) throws {
        guard store.texts != nil else {
            throw LifelongError(
                .damaged, message: "store \(store.environment.path): no texts database (opened read-only?)")
        }
        self.store = store
        self.textModel = textModel
        self.layers = layers
    }

    /// The atoms of `hashes`: from the cache when an entry of the same text model and layer count is there,
    /// else embedded now — every missing text in packed batches — and written to the cache. A hash with no
    /// valid cache entry and no text in `texts` is left out.
    public func vectors(for hashes: Set<[UInt8]>, texts: [[UInt8]: String]) throws -> Lookup {
        let db = store.texts!
        let distinct = hashes.sorted { $0.lexicographicallyPrecedes($1) }
        var out = Lookup()
        try store.environment.read { txn in
            for h in distinct {
                guard let r = try store.textAtom(txn, hash: h, layers: layers),
                    r.modelFingerprint == textModel.fingerprint, r.layers == layers,
                    r.vector.count == textModel.config.hidden
                else { continue }
                out.vectors[h] = r.vector
            }
        }
        out.found = out.vectors.count
        let missing = distinct.filter { out.vectors[$0] == nil && texts[$0] != nil }
        guard !missing.isEmpty else { return out }
        let embedded = try textModel.embed(missing.map { texts[$0]! }, layers: layers)
        try store.environment.write { txn in
            for (h, e) in zip(missing, embedded) {
                let record = TextVectorRecord(layers: layers, modelFingerprint: textModel.fingerprint, vector: e.vector)
                try txn.put(db, Store.textKey(hash: h, layers: layers), reserving: record.encodedSize) {
                    record.encode(into: $0)
                }
                out.vectors[h] = e.vector
            }
        }
        out.computed = missing.count
        return out
    }

    /// The atom of every item's text (item id → text), keyed by item id.
    public func vectors(forTexts texts: [String: String]) throws -> (byItem: [String: [Float]], lookup: Lookup) {
        var textOf: [[UInt8]: String] = [:]
        var hashOf: [String: [UInt8]] = [:]
        for (id, t) in texts {
            let h = MiniLM.textHash(t)
            textOf[h] = t
            hashOf[id] = h
        }
        let lookup = try vectors(for: Set(textOf.keys), texts: textOf)
        return (hashOf.compactMapValues { lookup.vectors[$0] }, lookup)
    }
}
