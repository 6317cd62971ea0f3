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
        let run = Verification(store: store, maximumFaults: maximumFaults)
        guard let fingerprint = try run.checkMeta(model: model) else { return run.summary }
        let recompute = model.map { $0.fingerprint == fingerprint } ?? false
        try store.environment.read { txn in
            try run.checkItems(txn, fingerprint: fingerprint)
            try run.checkItemIds(txn)
            try run.checkTexts(txn)
            if recompute, let model { try run.prepareRecomputation(txn, model: model) }
            try run.checkUsers(txn, fingerprint: fingerprint, model: model, progress: progress)
            try run.checkOrphanChunks(txn)
        }
        return run.summary
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
