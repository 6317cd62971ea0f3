import Errors
import Tensors
import Foundation

extension ModelBundle {
    /// Shape of a randomly initialised bundle (`lifelong init-model`).
    public struct Shape: Sendable {
        public var dItem = 32, dCat = 16, m = 48, tau = 3, window = 50, heads = 2, attentionDim = 32
        public var hidden = [200, 80]
        /// A text projection `W_t` (`[dText, TextVector.width]`) over the first `textLayers` layers of the text
        /// model; 0 = none.
        public var dText = 0, textLayers = 2
        public var textModel = "all-MiniLM-L6-v2"
        /// A v2 bundle: behaviors carry their feedback (`feedback_embedding [3, d]`).
        public var feedback = false
        public init() {}
    }

    /// Writes a randomly initialised bundle over a log's vocabulary ids (`Dataset.vocabularyIds`: rows 1…
    /// in the given order) and loads it back.
    @discardableResult
    public static func writeRandom(
        to folder: String, vocabulary ids: (items: [String], categories: [String]), shape: Shape, seed: UInt64
    ) throws -> ModelBundle {
        try writeRandom(to: folder, items: ids.items, categories: ids.categories, shape: shape, seed: seed)
        return try ModelBundle(folder: folder)
    }

    /// Writes a randomly initialised v1 bundle whose vocabulary is `items` and `categories` (rows 1…, in the
    /// given order; row 0 is "unknown"). The projection is N(0, 1) from `seed` (recorded in the metadata as
    /// `projection_seed`); embeddings are N(0, 0.1²); Linear layers are U(±1/√in) like PyTorch's default.
    public static func writeRandom(
        to folder: String, items: [String], categories: [String], shape: Shape, seed: UInt64
    ) throws {
        guard shape.m % shape.tau == 0 else {
            throw LifelongError(.invalidArgument, message: "--m \(shape.m) is not a multiple of --tau \(shape.tau)")
        }
        guard shape.tau >= 1, shape.tau <= 8 else {
            throw LifelongError(.invalidArgument, message: "--tau must be 1…8")
        }
        guard shape.attentionDim % shape.heads == 0 else {
            throw LifelongError(
                .invalidArgument,
                message: "--attention-dim \(shape.attentionDim) is not divisible by --heads \(shape.heads)")
        }
        guard shape.hidden.count == 2, shape.hidden.allSatisfy({ $0 > 0 }) else {
            throw LifelongError(.invalidArgument, message: "--hidden needs two positive sizes, e.g. 200,80")
        }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var rng = Gaussian(seed: seed)
        guard shape.dText >= 0, (0...6).contains(shape.textLayers) else {
            throw LifelongError(.invalidArgument, message: "--d-text must be ≥ 0 and --text-layers 0…6")
        }
        let d = shape.dItem + shape.dCat + shape.dText
        let projection = (0..<(shape.m * d)).map { _ in rng.normal() }  // drawn first: depends on the seed only
        var weights = Gaussian(seed: seed &+ 1)
        func normal(_ n: Int, _ sd: Float) -> [Float] { (0..<n).map { _ in weights.normal() * sd } }
        func uniform(_ n: Int, fanIn: Int) -> [Float] {
            let a = 1 / Float(fanIn).squareRoot()
            return (0..<n).map { _ in (weights.uniform() * 2 - 1) * a }
        }
        var tensors: [(name: String, shape: [Int], values: [Float])] = [
            ("item_embedding", [items.count + 1, shape.dItem], normal((items.count + 1) * shape.dItem, 0.1)),
            (
                "category_embedding", [categories.count + 1, shape.dCat],
                normal((categories.count + 1) * shape.dCat, 0.1)
            ),
            ("sdim.projection", [shape.m, d], projection),
        ]
        func linear(_ name: String, _ out: Int, _ inp: Int) {
            tensors.append(("\(name).weight", [out, inp], uniform(out * inp, fanIn: inp)))
            tensors.append(("\(name).bias", [out], uniform(out, fanIn: inp)))
        }
        for p in ["query", "key", "value"] { linear("short_attention.\(p)", shape.attentionDim, d) }
        linear("short_attention.output", d, shape.attentionDim)
        linear("mlp.0", shape.hidden[0], 5 * d)
        linear("mlp.1", shape.hidden[1], shape.hidden[0])
        linear("mlp.2", 1, shape.hidden[1])
        // Drawn last: bundles without text are unchanged by it.
        if shape.dText > 0 { linear("text_projection", shape.dText, TextVector.width) }
        if shape.feedback {
            tensors.append(("feedback_embedding", [Feedback.count, d], normal(Feedback.count * d, 0.1)))
        }
        let metadata = Self.metadata(
            tau: shape.tau, window: shape.window, heads: shape.heads, projectionSeed: seed,
            text: shape.dText > 0 ? (shape.textModel, shape.textLayers) : nil, feedback: shape.feedback,
            createdBy: "lifelong init-model")
        try Safetensors.write(
            tensors, metadata: metadata, to: (folder as NSString).appendingPathComponent("model.safetensors"))
        let vocab = Vocabulary(
            items: Dictionary(uniqueKeysWithValues: items.enumerated().map { ($1, $0 + 1) }),
            categories: Dictionary(uniqueKeysWithValues: categories.enumerated().map { ($1, $0 + 1) }))
        try Data(vocab.tsv.utf8).write(
            to: URL(fileURLWithPath: (folder as NSString).appendingPathComponent("vocab.tsv")), options: .atomic)
    }
}

extension ModelBundle {
    /// The `__metadata__` of a v1 (or, with `feedback`, v2) `model.safetensors` (MODEL.md): every writer of
    /// bundles goes through here.
    public static func metadata(
        tau: Int, window: Int, heads: Int, projectionSeed: UInt64, text: (model: String, layers: Int)?,
        feedback: Bool, createdBy: String
    ) -> [String: String] {
        var m = [
            "format": feedback ? feedbackFormat : format, "tau": "\(tau)", "short_window": "\(window)",
            "heads": "\(heads)",
            "projection_seed": "\(projectionSeed)", "created_by": createdBy,
        ]
        if let text {
            m["text_model"] = text.model
            m["text_layers"] = "\(text.layers)"
        }
        return m
    }

    /// Multiplies a bundle's weights in place: embedding tables by `embeddings`, every linear layer by
    /// `linear` (the projection is kept). Test fixtures use it so that probabilities spread over (0, 1)
    /// where init-model's small weights keep them near 0.5 and would hide errors.
    public static func scaleWeights(in folder: String, embeddings: Float, linear: Float) throws {
        let path = (folder as NSString).appendingPathComponent("model.safetensors")
        let file = try Safetensors(contentsOf: path)
        let tensors = try file.tensors.keys.sorted().map { name -> (name: String, shape: [Int], values: [Float]) in
            let scale: Float = name.hasSuffix("embedding") ? embeddings : name == "sdim.projection" ? 1 : linear
            return (name, file.tensors[name]!.shape, try file.floats(name).map { $0 * scale })
        }
        try Safetensors.write(tensors, metadata: file.metadata, to: path)
    }
}
