public import BehaviorLog
import Evaluation
import Foundation
public import Model
import TextAtoms
import Store
import Tensors
import TextEncoder

/// What `lifelong train` does between reading the log and printing: a random initial bundle over the log's
/// vocabulary (v2 when the log has labels, unless the shape says otherwise), the text atoms from the cache,
/// the time split, the trainer, the optional id baseline and test predictions, and the trained bundle with
/// its `training.json` written into a folder that replaces `out` only once it is complete.
public struct TrainingJob: Sendable {
    public var out: String
    public var shape: ModelBundle.Shape
    public var seed: UInt64 = 1
    public var options = TrainingOptions()
    /// For a bundle with a text projection: the text model, and the store whose `texts` database caches atoms.
    public var textModelFolder = MiniLM.defaultFolder
    public var textStore = "Output/text-cache"
    /// Also fit a logistic regression on user and item ids on the same split.
    public var baseline = false
    /// Also write every test sample's `{user, item, timestamp, label, p}` here, as JSON Lines.
    public var predictionsPath: String?
    /// Recorded in `training.json`.
    public var command = ""
    /// More than one: a run per learning rate (`options.learningRate` ignored), all from the same initial
    /// weights and sample order, and the one with the best valid AUC kept (`training.json` lists them all).
    public var learningRates: [Float] = []

    public init(out: String, shape: ModelBundle.Shape) {
        self.out = out
        self.shape = shape
    }

    /// What the run did.
    public struct Outcome: Sendable {
        public var report: TrainingReport
        public var bundle: ModelBundle
        public var samples: (train: Int, valid: Int, test: Int)
        /// Text atoms computed and found in the cache (bundles with a text projection).
        public var textAtoms: (computed: Int, found: Int)?
    }

    /// Events as they happen: a line for the log, and the trainer's progress.
    public struct Observer {
        public var log: (String) -> Void = { _ in }
        public var progress: ((_ epoch: Int, _ done: Int, _ total: Int, _ loss: Double) -> Void)?
        public var epochDone: ((TrainingReport.Epoch) -> Void)?
        /// A search's run `index` of `count` starts, with `learningRate`; and one ends.
        public var candidateStarts: ((_ index: Int, _ count: Int, _ learningRate: Float) -> Void)?
        public var candidateDone: ((TrainingReport.Candidate) -> Void)?
        public init() {}
    }

    public func run(_ data: Dataset, observer: Observer = Observer()) throws -> Outcome {
        BLAS.useOneThread()
        let partial = out.hasSuffix("/") ? String(out.dropLast()) + ".partial" : out + ".partial"
        try? FileManager.default.removeItem(atPath: partial)
        var finished = false
        defer { if !finished { try? FileManager.default.removeItem(atPath: partial) } }  // nothing half-written is left
        let initial = try ModelBundle.writeRandom(to: partial, vocabulary: data.vocabularyIds, shape: shape, seed: seed)

        var textVectors: [String: [Float]] = [:]
        var textAtoms: (computed: Int, found: Int)?
        if initial.config.dText > 0 {
            let model = try MiniLM(folder: textModelFolder)
            try FileManager.default.createDirectory(atPath: textStore, withIntermediateDirectories: true)
            let cache = try TextAtomCache(
                store: try Store(path: textStore), textModel: model, layers: initial.config.textLayers ?? 0)
            let (byItem, lookup) = try cache.vectors(forTexts: data.texts)
            textVectors = byItem
            textAtoms = (lookup.computed, lookup.found)
        }
        let set = try TrainingSet(data, vocabulary: initial.vocabulary, textVectors: textVectors)
        observer.log(
            "samples: \(set.train.count) train, \(set.valid.count) valid, \(set.test.count) test; "
                + "valid from t = \(Behavior.text(ofTimestamp: set.validTime)), "
                + "test from t = \(Behavior.text(ofTimestamp: set.testTime))")

        var options = self.options
        options.seed = seed
        let rates = learningRates.count > 1 ? learningRates : [learningRates.first ?? options.learningRate]
        var candidates: [TrainingReport.Candidate] = []
        var kept: (index: Int, trainer: Trainer, report: TrainingReport)?
        for (k, rate) in rates.enumerated() {
            options.learningRate = rate
            if rates.count > 1 { observer.candidateStarts?(k + 1, rates.count, rate) }
            let trainer = Trainer(initial: initial, data: set, options: options)
            let report = trainer.run(progress: observer.progress, epochDone: observer.epochDone)
            let candidate = TrainingReport.Candidate(
                learningRate: rate, epochs: report.epochs.count, bestEpoch: report.bestEpoch,
                validAUC: report.valid?.auc, testAUC: report.test?.auc, seconds: report.seconds,
                stoppedByEpochCap: report.stoppedByEpochCap(options.epochs))
            candidates.append(candidate)
            if rates.count > 1 { observer.candidateDone?(candidate) }
            // The valid AUC chooses (a tie keeps the earlier, smaller rate); the test split never does.
            if kept == nil || (candidate.validAUC ?? -.infinity) > (kept?.report.valid?.auc ?? -.infinity) {
                kept = (k, trainer, report)
            }
        }
        guard let (index, trainer, best) = kept else { preconditionFailure("at least one learning rate") }
        var report = best
        if rates.count > 1 { (report.candidates, report.kept) = (candidates, index) }
        report.options["command"] = command
        if baseline {
            var lr = LogisticRegression(set)
            let figures = lr.fit(set)
            report.options["lr_baseline_test_auc"] = String(format: "%.4f", figures.test.auc ?? .nan)
            report.options["lr_baseline_valid_auc"] = String(format: "%.4f", figures.valid.auc ?? .nan)
        }
        if let predictionsPath { try writePredictions(trainer, set, to: predictionsPath) }
        try trainer.writeBundle(to: partial)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(report).write(
            to: URL(fileURLWithPath: (partial as NSString).appendingPathComponent("training.json")))
        try Self.replaceFolder(out, with: partial)
        finished = true
        return Outcome(
            report: report, bundle: try ModelBundle(folder: out),
            samples: (set.train.count, set.valid.count, set.test.count), textAtoms: textAtoms)
    }

    private func writePredictions(_ trainer: Trainer, _ set: TrainingSet, to path: String) throws {
        var lines = ""
        for (s, p) in zip(set.test, trainer.predict(set.test)) {
            let b = set.behavior(s)
            let object: [String: Any] = [
                "user": b.user, "item": b.item, "timestamp": b.timestamp, "label": s.label ? 1 : 0, "p": Double(p),
            ]
            lines += String(
                decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
            lines += "\n"
        }
        try Data(lines.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// Puts `partial` where `target` was: the old folder is removed only after the new one is complete.
    static func replaceFolder(_ target: String, with partial: String) throws {
        let fm = FileManager.default
        guard fm.fileExists(atPath: target) else { return try fm.moveItem(atPath: partial, toPath: target) }
        let old = target + ".old-\(ProcessInfo.processInfo.processIdentifier)"
        try fm.moveItem(atPath: target, toPath: old)
        try fm.moveItem(atPath: partial, toPath: target)
        try fm.removeItem(atPath: old)
    }
}
