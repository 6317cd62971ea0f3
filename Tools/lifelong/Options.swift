import ArgumentParser
import Foundation
import Model
import Scorer
import Store
import TextEncoder

/// Options shared by the commands that read a behavior log.
struct DataOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Behavior log: a RecBole dataset folder (NAME.inter + NAME.item), a .inter file, a JSON Lines folder "
                + "(behaviors.jsonl + items.jsonl) or a .jsonl file (docs/FORMATS.md, \"Behavior logs\")."))
    var data: String

    @Option(help: "RecBole 'rating' at or above which a behavior counts as a click.")
    var ratingThreshold: Double = 4
}

/// `--text-model DIR`: the text atom encoder, loaded only for a bundle with a text projection.
struct TextModelOption: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "all-MiniLM-L6-v2 folder (config.json, vocab.txt, model.safetensors), for bundles with a text "
                + "projection."))
    var textModel = MiniLM.defaultFolder

    func load(for bundle: ModelBundle) throws -> MiniLM? {
        bundle.config.dText > 0 ? try MiniLM(folder: textModel) : nil
    }
}

/// `--model DIR --store DIR | --manifest FILE`: the bundle and the store (or the sharded store) encoded with it,
/// shared by `encode`, `append` and `score`.
struct ModelStoreOptions: ParsableArguments {
    @Option(help: "Model bundle folder (model.safetensors + vocab.tsv).") var model: String
    @Option(help: "Store folder (`encode` creates it; the others need one encoded with this model).") var store: String?
    @Option(help: "A sharded store's manifest.json (`lifelong manifest`), instead of --store (not for encode).")
    var manifest: String?

    func validate() throws {
        guard (store == nil) != (manifest == nil) else { throw ValidationError("give --store or --manifest (one)") }
    }

    /// The store or the manifest given.
    var source: StoreScorers.Source { manifest.map { .manifest($0) } ?? .store(store ?? "") }

    /// The store folder, for commands that take no manifest.
    func single(_ command: String) throws -> String {
        guard let store else { throw ValidationError("\(command) writes one store: give --store, not --manifest") }
        return store
    }
}

/// The model's shape (MODEL.md): shared by `init-model` and `train`.
struct ShapeOptions: ParsableArguments {
    @Option(help: "Item embedding width.") var dItem = 32
    @Option(help: "Category embedding width.") var dCat = 16
    @Option(help: "SimHash projections m.") var m = 48
    @Option(help: "Bits per signature τ (m/τ signatures of 2^τ buckets).") var tau = 3
    @Option(help: "Short-term window K.") var window = 50
    @Option(help: "Attention heads H.") var heads = 2
    @Option(help: "Attention width d_a.") var attentionDim = 32
    @Option(help: "MLP hidden sizes h1,h2.") var hidden = HiddenSizes(sizes: [200, 80])
    @Option(
        help: ArgumentHelp(
            "Text projection width d_text (0 = no text atoms; default 16 with --text-layers, else 0); item texts go "
                + "through the text model's first --text-layers layers."))
    var dText: Int?
    @Option(help: "Text model layers K run once for each distinct item text (0…6; default 2).") var textLayers: Int?
    @Flag(
        inversion: .prefixedNo,
        help: ArgumentHelp(
            "Behaviors carry their feedback (a lifelong.model.v2 bundle): s = e(item) + F[unknown | not clicked | "
                + "clicked]; the candidate and the signatures stay as in v1. `train`: on by default when the log has "
                + "labels; `init-model`: off by default."))
    var feedback: Bool?

    /// The shape, with feedback (v2) unless `--no-feedback`, or when neither flag is given, `feedbackByDefault`.
    func shape(feedbackByDefault: Bool) -> ModelBundle.Shape {
        var s = shape
        s.feedback = feedback ?? feedbackByDefault
        return s
    }

    var shape: ModelBundle.Shape {
        var shape = ModelBundle.Shape()
        shape.dItem = dItem; shape.dCat = dCat; shape.m = m; shape.tau = tau; shape.window = window
        shape.heads = heads; shape.attentionDim = attentionDim
        shape.dText = dText ?? (textLayers != nil ? 16 : 0)
        shape.textLayers = textLayers ?? 2
        shape.hidden = hidden.sizes
        shape.feedback = feedback ?? false
        return shape
    }
}

/// `--hidden h1,h2`: positive integers, comma-separated; anything else is refused, naming the bad part.
struct HiddenSizes: ExpressibleByArgument {
    var sizes: [Int]

    init(sizes: [Int]) { self.sizes = sizes }

    init?(argument: String) {
        let parts = argument.split(separator: ",", omittingEmptySubsequences: false)
        let sizes = parts.compactMap { Int($0) }.filter { $0 > 0 }
        guard sizes.count == parts.count, !sizes.isEmpty else { return nil }
        self.sizes = sizes
    }

    var defaultValueDescription: String { sizes.map(String.init).joined(separator: ",") }
}

/// `--shard K/N`: shard K of N (0 ≤ K < N).
struct ShardOption: ExpressibleByArgument {
    var index: Int, count: Int

    init?(argument: String) {
        let p = argument.split(separator: "/", omittingEmptySubsequences: false)
        guard p.count == 2, let k = Int(p[0]), let n = Int(p[1]), n > 0, k >= 0, k < n else { return nil }
        index = k
        count = n
    }
}

/// `--precision`: how the bucket sums are stored.
enum PrecisionOption: String, ExpressibleByArgument, CaseIterable {
    case f32, f16
    var value: UserRecord.Precision { self == .f32 ? .f32 : .f16 }
}
