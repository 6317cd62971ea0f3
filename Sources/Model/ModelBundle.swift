import Tensors
import Crypto
public import Errors
public import Foundation

/// What a behavior's label says about it, the row of `feedback_embedding` in a v2 bundle: 0 unknown (the log
/// has no label for it), 1 not clicked, 2 clicked.
public enum Feedback: UInt8, Sendable, CaseIterable {
    case unknown = 0, negative = 1, positive = 2
    /// The rows of `feedback_embedding`.
    public static let count = 3
    public init(_ label: Bool?) { self = label.map { $0 ? .positive : .negative } ?? .unknown }
    /// The label it was made from: nil unknown, false not clicked, true clicked.
    public var label: Bool? { self == .unknown ? nil : self == .positive }
}

/// A model bundle in format `lifelong.model.v1` (MODEL.md) or `lifelong.model.v2` (v1 with behavior feedback,
/// docs/MODEL.md): a folder with `model.safetensors` and `vocab.tsv`.
///
/// Loading checks every shape against the metadata and the others, with errors that name the tensor. All
/// weights are held as row-major `[Float]` (Linear weights `[out, in]`, as PyTorch writes them).
public struct ModelBundle: Sendable {
    public static let format = "lifelong.model.v1"
    /// v1 plus `feedback_embedding [3, d]`: a behavior's vector is `s_j = e(item_j) + F[feedback_j]`, while
    /// signatures, the candidate and everything else stay as in v1.
    public static let feedbackFormat = "lifelong.model.v2"

    public struct Config: Sendable, Equatable {
        public var dItem: Int
        public var dCat: Int
        public var dText: Int  // 0 without a text projection
        public var m: Int  // projections
        public var tau: Int  // bits per signature
        public var window: Int  // K
        public var heads: Int  // H
        public var attentionDim: Int  // d_a
        public var hidden: [Int]  // [h_1, h_2]
        public var projectionSeed: UInt64
        public var textModel: String?
        public var textLayers: Int?
        /// v2: behaviors carry their feedback (`feedback_embedding`).
        public var feedback = false

        public var d: Int { dItem + dCat + dText }
        public var signatures: Int { m / tau }
        public var buckets: Int { 1 << tau }
    }

    public let folder: String
    public let config: Config
    public let vocabulary: Vocabulary
    /// SHA-256 of `model.safetensors` followed by `vocab.tsv`.
    public let fingerprint: [UInt8]
    /// The `created_by` metadata, when the writer left one ("lifelong init-model": random, untrained).
    public let createdBy: String?

    public let itemEmbedding: [Float]  // [n_items, d_item]
    public let categoryEmbedding: [Float]  // [n_categories, d_cat]
    public let textProjectionWeight: [Float]  // [d_text, TextVector.width] or empty
    public let textProjectionBias: [Float]  // [d_text] or empty
    public let projection: [Float]  // [m, d]
    public let feedbackEmbedding: [Float]  // [3, d] (v2) or empty (v1)
    public let query: Linear, key: Linear, value: Linear, output: Linear
    public let mlp: [Linear]

    public var itemRows: Int { itemEmbedding.count / max(config.dItem, 1) }
    public var categoryRows: Int { categoryEmbedding.count / max(config.dCat, 1) }
    public var fingerprintHex: String { Hashing.hex(fingerprint) }

    /// A fully-connected layer `y = W x + b`, `W` row-major `[out, in]`.
    public struct Linear: Sendable {
        public let weight: [Float]
        public let bias: [Float]
        public let inputs: Int
        public let outputs: Int
    }

    /// Why a bundle could not be loaded or written: a file missing (`notFound`), unreadable (`io`), not a
    /// valid bundle (`damaged`), or a shape that cannot be a bundle (`invalidArgument`).
    public init(folder: String) throws {
        let modelPath = (folder as NSString).appendingPathComponent("model.safetensors")
        let vocabPath = (folder as NSString).appendingPathComponent("vocab.tsv")
        for p in [modelPath, vocabPath] where !FileManager.default.fileExists(atPath: p) {
            throw LifelongError(
                .notFound, message: "\(p): missing (a model bundle folder holds model.safetensors and vocab.tsv)")
        }
        let file = try Safetensors(contentsOf: modelPath)
        let vocabData: Data
        do { vocabData = try Data(contentsOf: URL(fileURLWithPath: vocabPath)) } catch {
            throw LifelongError(.io, message: "\(vocabPath): cannot read (\(error.localizedDescription))")
        }
        let vocabulary = try Vocabulary(data: vocabData, path: vocabPath)
        var hasher = SHA256()
        hasher.update(data: file.bytes)
        hasher.update(data: vocabData)
        try self.init(file: file, vocabulary: vocabulary, fingerprint: Array(hasher.finalize()), folder: folder)
    }

    init(file: Safetensors, vocabulary: Vocabulary, fingerprint: [UInt8], folder: String) throws {
        let meta = file.metadata
        let feedback = meta["format"] == Self.feedbackFormat
        config = try BundleShapes(file: file, vocabulary: vocabulary).config()
        let dText = config.dText
        func linear(_ prefix: String) throws -> Linear {
            let w = try file.floats("\(prefix).weight"), b = try file.floats("\(prefix).bias")
            return Linear(weight: w, bias: b, inputs: w.count / b.count, outputs: b.count)
        }
        self.folder = folder
        self.vocabulary = vocabulary
        self.fingerprint = fingerprint
        createdBy = meta["created_by"]
        itemEmbedding = try file.floats("item_embedding")
        categoryEmbedding = try file.floats("category_embedding")
        textProjectionWeight = dText > 0 ? try file.floats("text_projection.weight") : []
        textProjectionBias = dText > 0 ? try file.floats("text_projection.bias") : []
        projection = try file.floats("sdim.projection")
        feedbackEmbedding = feedback ? try file.floats("feedback_embedding") : []
        query = try linear("short_attention.query")
        key = try linear("short_attention.key")
        value = try linear("short_attention.value")
        output = try linear("short_attention.output")
        mlp = try (0..<3).map { try linear("mlp.\($0)") }
    }

    /// Writes `e(i)` for the item with table rows (`itemRow`, `categoryRow`) and optional text vector into
    /// `out[0..<d]` (MODEL.md: concat(E_item[row], E_cat[row], W_t x + b_t)).
    public func embed(
        itemRow: Int, categoryRow: Int, text: UnsafePointer<Float>? = nil, into out: UnsafeMutablePointer<Float>
    ) {
        let c = config
        itemEmbedding.withUnsafeBufferPointer { out.update(from: $0.baseAddress! + itemRow * c.dItem, count: c.dItem) }
        categoryEmbedding.withUnsafeBufferPointer {
            (out + c.dItem).update(from: $0.baseAddress! + categoryRow * c.dCat, count: c.dCat)
        }
        guard c.dText > 0 else { return }
        projectText(text, into: out + c.dItem + c.dCat)
    }

    /// `s_j = e(item_j) + F[feedback_j]`: adds the feedback row to a behavior's `e` in `v[0..<d]` (v2); v1
    /// leaves `v` as it is.
    @inlinable
    public func addFeedback(_ feedback: UInt8, to v: UnsafeMutablePointer<Float>) {
        guard config.feedback else { return }
        let d = config.d
        feedbackEmbedding.withUnsafeBufferPointer { f in
            let row = f.baseAddress! + Int(feedback) * d
            for k in 0..<d { v[k] += row[k] }
        }
    }

    /// The behavior vectors of `count` items whose `e` and signatures are `vectors` (`[count, d]`) and
    /// `signatures` (`[count, n_sig]`), as the bucket aggregation reads them: in v2, one row per (item,
    /// feedback), `e(item) + F[feedback]` with the item's signatures (the hash is of `e(item)`); in v1 the
    /// inputs as they are. `BehaviorTable.row(item:feedback:)` says which row a behavior is.
    public func behaviorTable(vectors: [Float], signatures: [UInt8], count: Int) -> BehaviorTable {
        guard config.feedback else { return BehaviorTable(vectors: vectors, signatures: signatures, kinds: 1) }
        let kinds = Feedback.count, d = config.d, nSig = config.signatures
        var outVectors = [Float](repeating: 0, count: count * kinds * d)
        var outSignatures = [UInt8](repeating: 0, count: count * kinds * nSig)
        outVectors.withUnsafeMutableBufferPointer { v in
            vectors.withUnsafeBufferPointer { src in
                for i in 0..<count {
                    for f in 0..<kinds {
                        let row = v.baseAddress! + (i * kinds + f) * d
                        row.update(from: src.baseAddress! + i * d, count: d)
                        addFeedback(UInt8(f), to: row)
                        let at = (i * kinds + f) * nSig
                        outSignatures.replaceSubrange(at..<(at + nSig), with: signatures[(i * nSig)..<((i + 1) * nSig)])
                    }
                }
            }
        }
        return BehaviorTable(vectors: outVectors, signatures: outSignatures, kinds: kinds)
    }

    /// The text part of `e(i)`: `W_t · x + b_t` (`d_text` floats into `out`); `x` nil (an item without text)
    /// gives `b_t`.
    public func projectText(_ x: UnsafePointer<Float>?, into out: UnsafeMutablePointer<Float>) {
        for r in 0..<config.dText {
            var s = textProjectionBias[r]
            if let x {
                let width = TextVector.width
                for k in 0..<width { s += textProjectionWeight[r * width + k] * x[k] }
            }
            out[r] = s
        }
    }
}

/// Behavior vectors (`[rows, d]`) and their signatures (`[rows, n_sig]`) for `SimHash.aggregate`: one row
/// per item in v1, one per (item, feedback) in v2 (`ModelBundle.behaviorTable`).
public struct BehaviorTable: Sendable {
    public let vectors: [Float]
    public let signatures: [UInt8]
    /// Rows per item: 1 (v1) or 3 (v2, one per feedback value).
    @usableFromInline let kinds: Int

    /// The row of a behavior of item `item` (its index among the table's items) with `feedback`.
    @inlinable
    public func row(item: Int, feedback: UInt8) -> Int { kinds == 1 ? item : item * kinds + Int(feedback) }
}

/// `vocab.tsv`: `kind<TAB>raw_id<TAB>row` for `item` and `category` rows; row 0 is reserved (unknown).
public struct Vocabulary: Sendable {
    public private(set) var items: [String: Int] = [:]
    public private(set) var categories: [String: Int] = [:]
    public private(set) var maxItemRow = 0
    public private(set) var maxCategoryRow = 0

    public init(items: [String: Int], categories: [String: Int]) {
        self.items = items
        self.categories = categories
        maxItemRow = items.values.max() ?? 0
        maxCategoryRow = categories.values.max() ?? 0
    }

    /// Parses `vocab.tsv`: lines ended by LF or CRLF, empty lines skipped, each `kind<TAB>raw_id<TAB>row`;
    /// errors name the line (`python/lifelong/bundle.py` parses by the same rules, Fixtures/bundles tests both).
    /// An id given twice: the same bytes, or — Swift's `String` equating them — the same text in another
    /// Unicode normalization form, which the store and Python would take for another id.
    private static func twice(_ kind: String, _ id: String, _ prior: String) -> String {
        prior.utf8.elementsEqual(id.utf8)
            ? "\(kind) '\(id)' listed twice"
            : "\(kind) '\(id)' is '\(prior)' in another Unicode normalization form: write every id in one form (NFC)"
    }

    public init(data: Data, path: String) throws {
        guard String(validating: data, as: UTF8.self) != nil else {
            throw LifelongError(.damaged, message: "\(path): not valid UTF-8")
        }
        let lines = data.split(separator: 0x0A, omittingEmptySubsequences: false)
        for (index, raw) in lines.enumerated() {
            let line = raw.last == 0x0D ? raw.dropLast() : raw
            if line.isEmpty { continue }
            let f = line.split(separator: 0x09, omittingEmptySubsequences: false).map {
                String(decoding: $0, as: UTF8.self)
            }
            func fail(_ m: String) -> LifelongError { .init(.damaged, message: "\(path):\(index + 1): \(m)") }
            guard f.count == 3 else { throw fail("expected kind<TAB>raw_id<TAB>row, found \(f.count) fields") }
            guard let row = Int(f[2]), row >= 1 else {
                throw fail("row '\(f[2])' is not an integer ≥ 1 (row 0 is reserved)")
            }
            switch f[0] {
            case "item":
                if let prior = items.index(forKey: f[1]) { throw fail(Self.twice("item", f[1], items[prior].key)) }
                items[f[1]] = row
                maxItemRow = max(maxItemRow, row)
            case "category":
                if let prior = categories.index(forKey: f[1]) {
                    throw fail(Self.twice("category", f[1], categories[prior].key))
                }
                categories[f[1]] = row
                maxCategoryRow = max(maxCategoryRow, row)
            default:
                throw fail("kind '\(f[0])' is neither 'item' nor 'category'")
            }
        }
    }

    /// The file text, rows in order (items then categories).
    public var tsv: String {
        var s = ""
        for (id, row) in items.sorted(by: { $0.value < $1.value }) { s += "item\t\(id)\t\(row)\n" }
        for (id, row) in categories.sorted(by: { $0.value < $1.value }) { s += "category\t\(id)\t\(row)\n" }
        return s
    }

    /// The item's row, 0 (unknown) for ids outside the vocabulary.
    public func itemRow(_ id: String) -> Int { items[id] ?? 0 }
    /// The category's row, 0 (unknown) for ids outside the vocabulary.
    public func categoryRow(_ id: String) -> Int { categories[id] ?? 0 }
}
