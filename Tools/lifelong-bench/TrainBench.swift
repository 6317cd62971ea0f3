import Tensors
import BehaviorLog
import ArgumentParser
import Offline
import Foundation
import LMDB
import Model
import Store
import TextAtoms
import TextEncoder
import Training

/// BAHE's claim, measured: training over cached text atoms against re-running the text encoder for every
/// behavior occurrence a batch reads (its candidates and their whole histories), in the same run, on the
/// same kind of batches (random train samples), through the same trainer step.
struct TrainBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-text",
        abstract:
            "Training samples/s with cached text atoms vs re-encoding every behavior occurrence's text (BAHE), "
            + "MovieLens titles."
    )
    @Option(help: "MovieLens-100K folder (from Tools/setup.sh).") var data = MiniLM.setupFolder("ml-100k")
    @Option(help: "all-MiniLM-L6-v2 folder.") var modelDir = MiniLM.defaultFolder
    @Option(help: "Text layers K.") var textLayers = 2
    @Option(help: "Text projection width d_text.") var dText = 16
    @Option(help: "Long-term interest of the trained model (sdim reads whole histories).") var long = "sdim"
    @Option(help: "Samples per batch.") var batch = 64
    @Option(help: "Batches timed with cached atoms.") var cachedBatches = 200
    @Option(help: "Batches timed with re-encoding (each runs the language model on every occurrence).")
    var encodedBatches = 2
    @OptionGroup var work: WorkFolder

    func validate() throws {
        try requireReleaseBuild()
        guard LongTerm(rawValue: long) != nil else { throw ValidationError("--long must be sdim, full or none") }
    }

    func run() throws {
        printMachineHeader()
        BLAS.useOneThread()
        let folder = work.run("train-text")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let log = try Dataset.load(data)
        let textModel = try MiniLM(folder: modelDir)
        var shape = ModelBundle.Shape()
        shape.dText = dText
        shape.textLayers = textLayers
        let bundle = try ModelBundle.writeRandom(
            to: folder + "/model", vocabulary: log.vocabularyIds, shape: shape, seed: 1)

        // Cached: every distinct text through the language model once, into an empty cache.
        try FileManager.default.createDirectory(atPath: folder + "/cache", withIntermediateDirectories: true)
        let cache = try TextAtomCache(
            store: try Store(path: folder + "/cache", durability: .noSync), textModel: textModel, layers: textLayers)
        var cacheSeconds = 0.0
        var atoms: (byItem: [String: [Float]], lookup: TextAtomCache.Lookup)!
        cacheSeconds = try time { atoms = try cache.vectors(forTexts: log.texts) }
        let distinctTexts = Set(log.items.values.compactMap(\.text)).count
        let set = try TrainingSet(log, vocabulary: bundle.vocabulary, textVectors: atoms.byItem)

        var options = TrainingOptions()
        options.long = LongTerm(rawValue: long)!
        options.batch = batch
        let batches = shuffledBatches(set)
        let n = min(cachedBatches, batches.count)

        let cachedTrainer = Trainer(initial: bundle, data: set, options: options)
        let cachedSeconds = time {
            for b in batches.prefix(n) { b.withUnsafeBufferPointer { _ = cachedTrainer.step($0) } }
        }
        let cachedSamples = batches.prefix(n).reduce(0) { $0 + $1.count }

        // Re-encoding: the same steps, after running the language model on every occurrence's text (packed batches).
        var idOfRow = [String](repeating: "", count: bundle.vocabulary.maxItemRow + 1)
        for (id, row) in bundle.vocabulary.items { idOfRow[row] = id }
        let encodingTrainer = Trainer(initial: bundle, data: set, options: options)
        var lmCalls = 0, encodedSamples = 0, worst: Float = 0
        let encodedSeconds = try time {
            for b in batches.prefix(min(encodedBatches, batches.count)) {
                let (texts, ids) = occurrenceTexts(b, set, log: log, idOfRow: idOfRow)
                let embedded = try textModel.embed(texts, layers: textLayers)
                lmCalls += texts.count
                // The re-encoded atoms are the cached ones (same model, same text): the training math is the same.
                for (e, id) in zip(embedded, ids) {
                    worst = max(worst, zip(e.vector, atoms.byItem[id]!).map { abs($0 - $1) }.max()!)
                }
                b.withUnsafeBufferPointer { _ = encodingTrainer.step($0) }
                encodedSamples += b.count
            }
        }

        let cachedRate = Double(cachedSamples) / cachedSeconds, encodedRate = Double(encodedSamples) / encodedSeconds
        print(
            "BAHE on MovieLens-100K: \(long) model, d_text = \(dText), text layers K = \(textLayers), "
                + "batches of \(batch), 1 BLAS thread"
        )
        print(
            "language-model calls with the cache: \(atoms.lookup.computed) (distinct texts: \(distinctTexts)), "
                + "\(fmt(cacheSeconds, 2)) s once"
        )
        print("| path | samples timed | LM calls | samples/s |")
        print("|---|---:|---:|---:|")
        print("| cached atoms | \(cachedSamples) | 0 | \(fmt(cachedRate, 0)) |")
        print("| re-encode every occurrence | \(encodedSamples) | \(lmCalls) | \(fmt(encodedRate, 1)) |")
        print(
            "speed-up (cached / re-encoded): \(fmt(cachedRate / encodedRate, 0))×; re-encoded atoms differ from the "
                + "cached ones by at most \(worst)"
        )
        let json: [String: Double] = [
            "cached_samples_per_s": cachedRate, "reencoded_samples_per_s": encodedRate,
            "speedup": cachedRate / encodedRate,
            "lm_calls_cached": Double(atoms.lookup.computed), "distinct_texts": Double(distinctTexts),
            "lm_calls_reencoded": Double(lmCalls),
        ]
        print(String(decoding: try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]), as: UTF8.self))
    }

    /// Batches of samples drawn at random from the train period (both paths see the same kind of histories).
    func shuffledBatches(_ set: TrainingSet) -> [[TrainingSet.Sample]] {
        var samples = set.train
        var rng = Gaussian(seed: 3)
        rng.shuffle(&samples)
        return stride(from: 0, to: samples.count, by: batch).map {
            Array(samples[$0..<min($0 + batch, samples.count)])
        }
    }

    /// The text of every behavior occurrence a batch reads (history and candidate), with its item id.
    func occurrenceTexts(
        _ b: [TrainingSet.Sample], _ set: TrainingSet, log: Dataset, idOfRow: [String]
    ) -> (texts: [String], ids: [String]) {
        var texts: [String] = [], ids: [String] = []
        for s in b {
            let userItems = set.items[set.start[Int(s.user)]...(set.start[Int(s.user)] + Int(s.position))]
            for row in userItems {
                let id = idOfRow[Int(row)]
                if let t = log.items[id]?.text {
                    texts.append(t)
                    ids.append(id)
                }
            }
        }
        return (texts, ids)
    }
}
