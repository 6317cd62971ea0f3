internal import CLifelong
public import Errors
import Foundation
public import Model
public import Store
import Synchronization
import Tensors

/// What writes a behavior into the store for `Scorer.append`: the offline module's encoder, handed to the
/// scorer when it is opened for appending (`Offline` adds `Scorer(modelFolder:storeFolder:writable:)`). A
/// serving binary that only scores links neither the encoder nor the language model.
public protocol BehaviorWriter: AnyObject {
    /// Appends one behavior of `user` in one write transaction (refusing one older than the user's last).
    func append(user: String, item: String, timestamp: Double, label: Bool?, category: String?) throws
    /// Appends `events` as one `append` each in order would, each user's record read and written once (an
    /// event the one-by-one append would refuse is refused alone, with its reason), and records in the same
    /// write transaction that `source` is applied up to its offset.
    func append(events: [Scorer.Event], source: Scorer.SourcePosition?) throws -> [Scorer.EventStatus]
}

/// The embedded scorer: probabilities for one user against a batch of candidate items, MODEL.md v1 exactly
/// (and v2, v1 with behavior feedback, docs/MODEL.md).
///
/// ```swift
/// let scorer = try Scorer(modelFolder: "model", storeFolder: "store", writable: true)
/// let p = try scorer.score(user: "196", candidates: ["242", "302", "377"])   // one probability each, in order
/// try scorer.append(user: "196", item: "242", timestamp: 891_000_000, label: true)   // O(m·d), safe while scoring
/// ```
///
/// - The store must have been encoded with this bundle: opening compares the model fingerprints and refuses
///   a mismatch, naming both.
/// - `score` is safe to call from many threads at once. Each call borrows a scratch arena from a pool, so a
///   warm `bse` request allocates nothing (the array-returning overload allocates its result only).
/// - A **cold user** (not in the store) has no history: `u_long = 0` and `u_short = 0`; the MLP still scores
///   the candidate from its own embedding. An **unknown item** (not in the vocabulary) uses row 0 of the
///   embedding tables, as MODEL.md specifies; an item in the vocabulary that the store has never seen uses
///   category row 0 (the store is where item → category lives).
/// - BLAS runs on the calling thread only (`BLAS.useOneThread()`): a serving process runs many requests in
///   parallel, and every product here is small enough that OpenBLAS's own threads would only contend for
///   the same cores.
public final class Scorer: Sendable {
    /// The library's version (the CLI's `--version`, the C ABI's `lifelong_version()`), from the one place
    /// it is written: `LIFELONG_VERSION_MAJOR/MINOR/PATCH` in `lifelong.h`.
    public static let version = "\(LIFELONG_VERSION_MAJOR).\(LIFELONG_VERSION_MINOR).\(LIFELONG_VERSION_PATCH)"

    /// How the long-term interest `u_long` is computed (MODEL.md "Modes"); everything else is shared.
    public enum Mode: String, Sendable, CaseIterable {
        /// Stored bucket sums (SDIM Eq. 12); never reads the sequence. The serving path.
        case bse
        /// Re-hashes the stored sequence on every request, then Eq. 12; equals `bse`.
        case online
        /// Exact softmax target attention over the whole sequence with the short-term weights (DIN-long).
        case full
        /// `u_long = 0`: the truncated baseline.
        case short
    }

    /// Why a scorer could not be opened or could not answer; `kind` is what a C or Python caller branches on.
    /// `invalidArgument`: an id that can never be a store key, an `append` on a scorer opened read-only;
    /// `modelMismatch`: the store was encoded with another bundle; `damaged`: the store is of another format,
    /// or a record in it is damaged.
    public let model: ModelBundle
    public let store: Store
    let catalog: Mutex<Catalog>
    /// The candidates' entries (`CandidateTable`), written under the catalog's lock.
    let candidateTable: CandidateTable
    let pool = Mutex<[Scratch]>([])
    let writer: Mutex<(any BehaviorWriter)?>
    /// Whether `append` is accepted (the scorer was opened with a writer).
    public let isWritable: Bool

    /// The candidate table's size (`CandidateTable`): one entry per distinct candidate embedding, each
    /// `4 · (h_1 + d_a + n_sig)` bytes; `bytes` counts the chunks allocated.
    public var candidateTableSize: (entries: Int, bytes: Int) {
        catalog.withLock { _ in (candidateTable.count, candidateTable.bytes) }
    }

    /// Int32s per entry in the scratch row buffers: item row, category row, text slot, feedback.
    static let rowStride = 4

    /// Opens the bundle and the store (read-only) and checks that they belong together.
    public convenience init(modelFolder: String, storeFolder: String) throws {
        let model = try ModelBundle(folder: modelFolder)
        let store = try Store(path: storeFolder, readOnly: true)
        try self.init(model: model, store: store)
    }

    /// Checks that `store` was encoded with `model` and loads the item catalog.
    /// - Parameter writer: makes the scorer accept `append` (built from `model` and `store` once they are
    ///   known to belong together); nil for a read-only scorer.
    public init(
        model: ModelBundle, store: Store,
        writer makeWriter: ((ModelBundle, Store, UserRecord.Precision) throws -> any BehaviorWriter)? = nil
    ) throws {
        BLAS.useOneThread()
        self.model = model
        self.store = store
        let meta = try store.meta()
        if let format = meta.format, format != Store.format {
            throw LifelongError(
                .damaged,
                message:
                    "store \(store.path) is format \(format); this build reads \(Store.format): re-encode it "
                    + "(`lifelong encode`)"
            )
        }
        guard let stored = meta.fingerprint else {
            throw LifelongError(
                .damaged, message: "\(store.path): the store has no model fingerprint in its meta (not encoded yet?)")
        }
        guard stored == model.fingerprintHex else {
            throw LifelongError(
                .modelMismatch,
                message:
                    "store \(store.path) was encoded with model \(stored), but the bundle \(model.folder) is model "
                    + "\(model.fingerprintHex); "
                    + "re-encode the store with this bundle (`lifelong encode`) or open the bundle it was made with")
        }
        let precision = meta.precision
        var c = Catalog(model: model)
        try store.read { snapshot in
            try store.forEachItem(snapshot) { id, r in
                c.insert(id, r, textPart: try Self.textPart(of: r, model: model, store: store, snapshot))
            }
        }
        c.completeEntries(model: model)
        c.addVocabularyEntries(model: model)
        candidateTable = c.table
        catalog = Mutex(c)
        writer = Mutex(try makeWriter?(model, store, precision))
        isWritable = makeWriter != nil
    }

    // MARK: Scoring

    /// Probabilities for `user` against `candidates` (raw item ids), one per candidate, in order.
    public func score(user: String, candidates: [String], mode: Mode = .bse) throws -> [Float] {
        var out = [Float](repeating: 0, count: candidates.count)
        try out.withUnsafeMutableBufferPointer { try score(user: user, candidates: candidates, mode: mode, into: $0) }
        return out
    }

    /// The allocation-free form: writes `candidates.count` probabilities into `out`.
    public func score(
        user: String, candidates: [String], mode: Mode = .bse, into out: UnsafeMutableBufferPointer<Float>
    ) throws {
        precondition(out.count >= candidates.count, "the output buffer is shorter than the candidate list")
        try validate(user: user)
        guard !candidates.isEmpty else { return }
        try withScratch {
            try forward(user: user, candidates: candidates, mode: mode, scratch: $0, into: out.baseAddress!)
        }
    }

    /// A user id that can never be a store key is refused rather than scored as a cold user.
    private func validate(user: String) throws {
        guard Store.isValidId(user) else {
            throw LifelongError(
                .invalidArgument,
                message:
                    "user id '\(user.prefix(64))\(user.utf8.count > 64 ? "…" : "")' is empty, contains a NUL byte or "
                    + "is longer than \(Store.maxIdBytes) bytes, so it can never be in a store")
        }
    }

    /// Runs `body` with a scratch arena borrowed from the pool (a new one only when all are in use).
    private func withScratch<R>(_ body: (Scratch) throws -> R) throws -> R {
        let scratch = pool.withLock { $0.popLast() } ?? Scratch()
        defer { pool.withLock { $0.append(scratch) } }
        return try body(scratch)
    }

    /// The long-term interest `u_long` alone (`[candidates.count, d]` floats into `out`): what the modes
    /// differ in, for analysis and for benchmarking that term by itself.
    public func longTermInterest(
        user: String, candidates: [String], mode: Mode, into out: UnsafeMutableBufferPointer<Float>
    ) throws {
        let d = model.config.d
        precondition(out.count >= candidates.count * d, "the output buffer is shorter than candidates × d")
        try validate(user: user)
        guard !candidates.isEmpty else { return }
        _ = try withScratch {
            try long(user: user, candidates: candidates, mode: mode, scratch: $0, into: out.baseAddress!, ld: d)
        }
    }

    // MARK: Appending

    /// Appends one behavior to `user` (creating the user if new): adds its vector to 16 buckets, slides the
    /// window, extends the sequence, in one write transaction. Safe while other threads score: they see the
    /// user either before or after the append. A behavior older than the user's last one is refused.
    /// `label`: whether the user clicked (nil: unknown) — a v2 bundle adds its feedback row to the behavior.
    public func append(
        user: String, item: String, timestamp: Double, label: Bool? = nil, category: String? = nil
    ) throws {
        try withWriter { writer in
            try writer.append(user: user, item: item, timestamp: timestamp, label: label, category: category)
            try refreshCatalog(CollectionOfOne(item))
        }
    }

    /// `body` with the writer, one append at a time; refused on a scorer opened read-only.
    func withWriter<R: Sendable>(_ body: sending (any BehaviorWriter) throws -> R) throws -> R {
        try writer.withLock { writer in
            guard let writer else {
                throw LifelongError(
                    .invalidArgument,
                    message: "\(store.path): the scorer was opened read-only; open it with writable: true to append")
            }
            return try body(writer)
        }
    }

    /// Reads the records of `items` after an append that may have created or changed them (one snapshot).
    func refreshCatalog<Items: Collection<String>>(_ items: Items) throws {
        guard !items.isEmpty else { return }
        let found = try store.read { snapshot -> [(String, ItemRecord, [Float]?)] in
            try items.compactMap { item in
                guard let r = try store.itemRecord(snapshot, item: item) else { return nil }
                return (item, r, try Self.textPart(of: r, model: model, store: store, snapshot))
            }
        }
        catalog.withLock { c in
            for (item, r, part) in found { c.insert(item, r, textPart: part) }
            c.completeEntries(model: model)
        }
    }

    /// `W_t · x(text) + b_t` for an item whose text atom is in the store's cache (nil without a text projection,
    /// or for an item without text).
    static func textPart(
        of r: ItemRecord, model: ModelBundle, store: Store, _ snapshot: borrowing Store.Snapshot
    ) throws -> [Float]? {
        let c = model.config
        guard c.dText > 0, let hash = r.textHash else { return nil }
        guard let atom = try store.textAtom(snapshot, hash: hash, layers: c.textLayers ?? 0) else {
            throw LifelongError(
                .damaged,
                message:
                    "store \(store.path): item store id \(r.storeId) names a text atom that is missing from (or "
                    + "damaged in) the texts cache"
            )
        }
        guard atom.vector.count == TextVector.width else {
            throw LifelongError(
                .damaged,
                message:
                    "store \(store.path): the text atom of item store id \(r.storeId) has \(atom.vector.count) "
                    + "floats, not \(TextVector.width)"
            )
        }
        var part = [Float](repeating: 0, count: c.dText)
        atom.vector.withUnsafeBufferPointer { x in
            part.withUnsafeMutableBufferPointer { model.projectText(x.baseAddress!, into: $0.baseAddress!) }
        }
        return part
    }
}
