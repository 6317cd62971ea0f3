import Errors
import Foundation
public import LMDB
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
            throw LifelongError(kind, message: reason)
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

extension StoreScorers {
    /// Opens `source` with the bundle at `modelFolder`; `writable` also opens every store for `append`
    /// (through the offline encoder) with `durability`. A writable open never creates a store: each must exist.
    /// - Parameter textModel: for appending to a store whose bundle has a text projection.
    public convenience init(
        model: ModelBundle, source: Source, writable: Bool, durability: Environment.Durability = .full,
        textModel: MiniLM? = nil
    ) throws {
        try self.init(model: model, source: source) { model, folder in
            if writable,
                !FileManager.default.fileExists(atPath: (folder as NSString).appendingPathComponent("data.mdb"))
            {
                throw LifelongError(
                    .notFound,
                    message: "\(folder): no store here (expected data.mdb; create one with `lifelong encode`)")
            }
            let store = try Store(path: folder, readOnly: !writable, durability: durability)
            return try Scorer(model: model, store: store, writable: writable, textModel: textModel)
        }
    }

    /// The same with the bundle at `modelFolder`.
    public convenience init(modelFolder: String, source: Source, writable: Bool) throws {
        try self.init(model: try ModelBundle(folder: modelFolder), source: source, writable: writable)
    }
}
