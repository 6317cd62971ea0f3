import Errors
import Tensors

/// A bundle's metadata and tensor shapes checked against each other (docs/MODEL.md), in a fixed order so a
/// damaged bundle is always refused with the same message; the result is the bundle's `Config`.
struct BundleShapes {
    let file: Safetensors
    let vocabulary: Vocabulary

    private func fail(_ message: String, _ tensor: String? = nil) -> LifelongError {
        LifelongError(.damaged, message: "\(file.path): " + (tensor.map { "tensor '\($0)': " } ?? "") + message)
    }

    private func metaInt(_ key: String) throws -> Int {
        guard let s = file.metadata[key], let v = Int(s), v > 0 else {
            throw fail("metadata '\(key)' missing or not a positive integer")
        }
        return v
    }

    private func shape(_ name: String) throws -> [Int] {
        guard let t = file.tensors[name] else { throw fail("missing", name) }
        return t.shape
    }

    private func expect(_ name: String, _ want: [Int]) throws {
        let got = try shape(name)
        guard got == want else { throw fail("shape \(got), expected \(want)", name) }
    }

    /// Every check, then the configuration they establish.
    func config() throws -> ModelBundle.Config {
        let meta = file.metadata
        guard meta["format"] == ModelBundle.format || meta["format"] == ModelBundle.feedbackFormat else {
            throw fail(
                "metadata format is \(meta["format"].map { "'\($0)'" } ?? "missing"), expected "
                    + "'\(ModelBundle.format)' or '\(ModelBundle.feedbackFormat)'")
        }
        let feedback = meta["format"] == ModelBundle.feedbackFormat
        let tau = try metaInt("tau"), window = try metaInt("short_window"), heads = try metaInt("heads")
        guard let seedString = meta["projection_seed"], let seed = UInt64(seedString) else {
            throw fail("metadata 'projection_seed' missing or not an unsigned integer")
        }
        let (item, cat, dText) = try embeddings(feedback: feedback)
        let d = item[1] + cat[1] + dText
        let m = try projection(d: d, tau: tau)
        let da = try attention(d: d, heads: heads)
        let hidden = try mlp(d: d)
        try vocabularyRows(items: item[0], categories: cat[0])
        return ModelBundle.Config(
            dItem: item[1], dCat: cat[1], dText: dText, m: m, tau: tau, window: window, heads: heads,
            attentionDim: da, hidden: hidden, projectionSeed: seed,
            textModel: meta["text_model"], textLayers: meta["text_layers"].flatMap { Int($0) }, feedback: feedback)
    }

    /// The item and category tables, the text projection (if any) and the feedback rows (v2 only).
    private func embeddings(feedback: Bool) throws -> (item: [Int], category: [Int], dText: Int) {
        let item = try shape("item_embedding"), cat = try shape("category_embedding")
        guard item.count == 2, item[0] >= 1 else {
            throw fail("shape \(item), expected [n_items ≥ 1, d_item]", "item_embedding")
        }
        guard cat.count == 2, cat[0] >= 1 else {
            throw fail("shape \(cat), expected [n_categories ≥ 1, d_cat]", "category_embedding")
        }
        var dText = 0
        if file.tensors["text_projection.weight"] != nil || file.tensors["text_projection.bias"] != nil {
            let w = try shape("text_projection.weight")
            guard w.count == 2, w[1] == TextVector.width else {
                throw fail("shape \(w), expected [d_text, \(TextVector.width)]", "text_projection.weight")
            }
            dText = w[0]
            try expect("text_projection.bias", [dText])
        }
        let d = item[1] + cat[1] + dText
        if feedback {
            try expect("feedback_embedding", [Feedback.count, d])
        } else if file.tensors["feedback_embedding"] != nil {
            throw fail(
                "present in a '\(ModelBundle.format)' bundle (feedback needs format '\(ModelBundle.feedbackFormat)')",
                "feedback_embedding")
        }
        return (item, cat, dText)
    }

    /// SimHash's projection `[m, d]`; returns m.
    private func projection(d: Int, tau: Int) throws -> Int {
        let proj = try shape("sdim.projection")
        guard proj.count == 2, proj[1] == d else {
            throw fail("shape \(proj), expected [m, d = \(d)]", "sdim.projection")
        }
        let m = proj[0]
        guard m % tau == 0 else { throw fail("m = \(m) is not a multiple of tau = \(tau)", "sdim.projection") }
        guard tau <= 8 else { throw fail("metadata 'tau' = \(tau) exceeds 8 (buckets are stored as one byte)") }
        return m
    }

    /// The window attention's four linear layers; returns d_a.
    private func attention(d: Int, heads: Int) throws -> Int {
        let qShape = try shape("short_attention.query.weight")
        guard qShape.count == 2, qShape[1] == d else {
            throw fail("shape \(qShape), expected [d_a, d = \(d)]", "short_attention.query.weight")
        }
        let da = qShape[0]
        guard da % heads == 0 else {
            throw fail("d_a = \(da) is not divisible by heads = \(heads)", "short_attention.query.weight")
        }
        for p in ["query", "key", "value"] {
            try expect("short_attention.\(p).weight", [da, d])
            try expect("short_attention.\(p).bias", [da])
        }
        try expect("short_attention.output.weight", [d, da])
        try expect("short_attention.output.bias", [d])
        return da
    }

    /// The MLP `5d → h_1 → h_2 → 1`; returns [h_1, h_2].
    private func mlp(d: Int) throws -> [Int] {
        let m0 = try shape("mlp.0.weight")
        guard m0.count == 2, m0[1] == 5 * d else {
            throw fail("shape \(m0), expected [h_1, 5d = \(5 * d)]", "mlp.0.weight")
        }
        let m1 = try shape("mlp.1.weight")
        guard m1.count == 2, m1[1] == m0[0] else {
            throw fail("shape \(m1), expected [h_2, h_1 = \(m0[0])]", "mlp.1.weight")
        }
        try expect("mlp.2.weight", [1, m1[0]])
        try expect("mlp.0.bias", [m0[0]])
        try expect("mlp.1.bias", [m1[0]])
        try expect("mlp.2.bias", [1])
        return [m0[0], m1[0]]
    }

    /// The vocabulary's rows fall inside the tables.
    private func vocabularyRows(items: Int, categories: Int) throws {
        guard vocabulary.maxItemRow < items else {
            throw fail(
                "vocab.tsv uses item row \(vocabulary.maxItemRow) but the table has \(items) rows", "item_embedding")
        }
        guard vocabulary.maxCategoryRow < categories else {
            throw fail(
                "vocab.tsv uses category row \(vocabulary.maxCategoryRow) but the table has \(categories) rows",
                "category_embedding")
        }
    }
}
