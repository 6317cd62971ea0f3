public import Model
public import Scorer
public import Store
public import TextEncoder

extension BehaviorEncoder: BehaviorWriter {
    /// One behavior as a batch of one (`append(events:)`: the same checks, one write transaction); a refused
    /// behavior throws its reason.
    public func append(user: String, item: String, timestamp: Double, label: Bool?, category: String?) throws {
        let event = Scorer.Event(user: user, item: item, timestamp: timestamp, label: label, category: category)
        if case .refused(let kind, let reason) = try append(events: [event])[0] {
            throw EncodeError(kind, message: reason)
        }
    }
}

extension Scorer {
    /// Opens the bundle and the store and checks that they belong together.
    /// - Parameter writable: open the store for `append` as well (otherwise read-only).
    public convenience init(modelFolder: String, storeFolder: String, writable: Bool) throws {
        let model = try ModelBundle(folder: modelFolder)
        let store = try Store(path: storeFolder, readOnly: !writable)
        try self.init(model: model, store: store, writable: writable)
    }

    /// A scorer whose `append` goes through the offline encoder (`BehaviorEncoder`).
    /// - Parameter textModel: for appending to a store whose bundle has a text projection.
    public convenience init(model: ModelBundle, store: Store, writable: Bool, textModel: MiniLM? = nil) throws {
        try self.init(
            model: model, store: store,
            writer: writable
                ? { model, store, precision in
                    try BehaviorEncoder(model: model, store: store, precision: precision, textModel: textModel)
                } : nil)
    }
}

extension ShardedScorer {
    /// Opens every shard of a manifest; `writable` also opens them for `append` (through the offline encoder).
    public convenience init(modelFolder: String, manifestPath: String, writable: Bool) throws {
        try self.init(model: try ModelBundle(folder: modelFolder), manifestPath: manifestPath) { model, folder in
            try Scorer(model: model, store: try Store(path: folder, readOnly: !writable), writable: writable)
        }
    }
}
