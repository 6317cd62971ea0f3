import Tensors
import Foundation
public import Model
public import Evaluation

/// How a training run goes.
public struct TrainingOptions: Sendable {
    public var long: LongTerm = .sdim
    /// At most this many epochs: a safety net, since early stopping (`patience`) ends a run; a run still
    /// improving when it is reached is reported (`TrainingReport.Candidate.stoppedByEpochCap`, the CLI's output).
    public var epochs = 100
    /// Samples per batch; batches are groups of whole users (`Trainer.trainEpoch`).
    public var batch = 1024
    public var learningRate: Float = 3e-4
    /// AdamW's decoupled weight decay (0 = plain Adam).
    public var weightDecay: Float = 0
    /// Seed for the order of the samples in each epoch (the weights come from the initial bundle's seed).
    public var seed: UInt64 = 1
    /// Stop after this many epochs without a better valid AUC; the best epoch's weights are kept.
    public var patience = 2
    public init() {}

    /// The learning rates `lifelong train` tries when none is given; the run with the best valid AUC is kept
    /// (docs/BENCHMARKS.md, "Trainer: MovieLens-100K": no single rate is best on every seed, and the larger
    /// ones stop after fewer epochs, so the three runs cost about twice one).
    public static let searchedLearningRates: [Float] = [3e-4, 1e-3, 3e-3]
}

extension Metrics.Summary {
    /// The figures of `predictions` against the samples' labels.
    init(_ predictions: [Float], _ samples: [TrainingSet.Sample]) {
        self.init(predictions, labels: samples.map(\.label))
    }
}

/// What a training run did, written as `training.json` next to the bundle.
public struct TrainingReport: Codable, Sendable {
    public struct Epoch: Codable, Sendable {
        public var epoch: Int
        public var trainLoss: Double
        public var valid: Metrics.Summary
        public var seconds: Double
        public var samplesPerSecond: Double
    }
    public var long: String
    public var epochs: [Epoch] = []
    public var bestEpoch = 0
    public var train: Metrics.Summary?, valid: Metrics.Summary?, test: Metrics.Summary?
    /// Valid is [validTime, testTime), test from testTime on (the behaviors' timestamps).
    public var validTime: Double, testTime: Double
    public var options: [String: String] = [:]
    public var seconds = 0.0
    /// One run of a search over learning rates: its setting, how it ended and its valid AUC (the split that
    /// chooses; the test split never does).
    public struct Candidate: Codable, Sendable, Equatable {
        public var learningRate: Float
        public var epochs: Int
        public var bestEpoch: Int
        public var validAUC: Double?
        /// Reported so that each setting can be compared with the one kept; it plays no part in the choice.
        public var testAUC: Double?
        public var seconds: Double
        /// The run was still improving when the epoch cap ended it.
        public var stoppedByEpochCap: Bool
    }
    /// Every run of the search, in order, and the index of the one whose bundle this is (nil: one setting).
    public var candidates: [Candidate]?
    public var kept: Int?

    /// Whether the run was still improving when the epoch cap `epochs` ended it (its best epoch is the last).
    public func stoppedByEpochCap(_ epochs: Int) -> Bool { bestEpoch == epochs }
}

/// Trains the v1 model (MODEL.md) on a `TrainingSet`: mini-batch Adam on the train period, the valid AUC
/// after every epoch, early stopping, and the best epoch's weights kept.
package final class Trainer {
    package let initial: ModelBundle
    package let data: TrainingSet
    package let options: TrainingOptions
    package private(set) var parameters: Parameters<Float>
    private let network: Network<Float>
    private var adam: Adam<Float>
    private var gradients: [Float]
    private var rng: Gaussian
    private let denseRanges: [Range<Int>]

    /// Progress inside an epoch: (epoch, samples done, samples in the epoch, running mean loss).
    package typealias Progress = (_ epoch: Int, _ done: Int, _ total: Int, _ loss: Double) -> Void

    /// `initial`: the bundle to start from (its vocabulary, shape, projection and initial weights).
    package init(initial: ModelBundle, data: TrainingSet, options: TrainingOptions) {
        self.initial = initial
        self.data = data
        self.options = options
        parameters = Parameters(initial)
        network = Network(
            config: initial.config, long: options.long, data: data, projection: initial.projection,
            offsets: parameters.offsets)
        adam = Adam(count: parameters.values.count, learningRate: options.learningRate)
        adam.weightDecay = options.weightDecay
        gradients = [Float](repeating: 0, count: parameters.values.count)
        rng = Gaussian(seed: options.seed)
        let p = parameters
        denseRanges = p.tensors.filter { $0 != .item && $0 != .category }.map {
            p.offset($0)..<(p.offset($0) + p.count($0))
        }
    }

    /// One pass over the train period, users in a seeded random order; returns the mean training loss.
    ///
    /// A batch is a group of whole users with about `options.batch` samples between them (a user with more
    /// is a batch alone), so the SDIM pass reads each user's history once per batch, not once per sample.
    package func trainEpoch(_ epoch: Int, progress: Progress? = nil) -> Double {
        let batches = nextEpochBatches()
        var total = 0.0, done = 0
        for batch in batches {
            batch.withUnsafeBufferPointer { total += step($0) * Double($0.count) }
            done += batch.count
            progress?(epoch, done, data.train.count, total / Double(done))
        }
        return total / Double(max(done, 1))
    }

    /// The batches of the next epoch: the users with train samples in a seeded random order (advancing the
    /// seed), packed into groups of whole users of at most `options.batch` samples (a user with more is a
    /// batch alone), each user's samples by position.
    package func nextEpochBatches() -> [[TrainingSet.Sample]] {
        var users = trainUsers
        rng.shuffle(&users)
        var batches: [[TrainingSet.Sample]] = [[]]
        for u in users {
            let samples = trainByUser[u]
            if !batches[batches.count - 1].isEmpty, batches[batches.count - 1].count + samples.count > options.batch {
                batches.append([])
            }
            batches[batches.count - 1] += samples
        }
        return batches.filter { !$0.isEmpty }
    }

    /// The train samples of each user (by position), and the users that have any.
    private lazy var trainByUser: [[TrainingSet.Sample]] = Self.byUser(data.train, users: data.users.count)
    private lazy var trainUsers: [Int] = trainByUser.indices.filter { !trainByUser[$0].isEmpty }

    static func byUser(_ samples: [TrainingSet.Sample], users: Int) -> [[TrainingSet.Sample]] {
        var out = [[TrainingSet.Sample]](repeating: [], count: users)
        for s in samples { out[Int(s.user)].append(s) }
        for u in out.indices { out[u].sort { $0.position < $1.position } }
        return out
    }

    /// One Adam step on `batch`; returns its mean loss before the step.
    @discardableResult
    package func step(_ batch: UnsafeBufferPointer<TrainingSet.Sample>) -> Double {
        let c = initial.config
        let itemOffset = parameters.offset(.item), categoryOffset = parameters.offset(.category)
        return parameters.values.withUnsafeMutableBufferPointer { w in
            gradients.withUnsafeMutableBufferPointer { g in
                let loss = network.forward(batch, parameters: w.baseAddress!)
                network.backward(parameters: w.baseAddress!, gradients: g.baseAddress!)
                let touched = network.touchedRows
                let rows =
                    touched.items.map { (itemOffset + Int($0) * c.dItem, c.dItem) }
                    + touched.categories.map { (categoryOffset + Int($0) * c.dCat, c.dCat) }
                adam.update(w.baseAddress!, g.baseAddress!, dense: denseRanges, rows: rows)
                return loss
            }
        }
    }

    /// σ(logit) for each sample, in order. Samples are run grouped by user (each batch reads a user's history
    /// once), then put back in the given order.
    package func predict(_ samples: [TrainingSet.Sample], batch: Int = 1024) -> [Float] {
        let order = samples.indices.sorted {
            let a = samples[$0], b = samples[$1]
            return a.user != b.user ? a.user < b.user : a.position < b.position
        }
        let grouped = order.map { samples[$0] }
        var out = [Float](repeating: 0, count: samples.count)
        grouped.withUnsafeBufferPointer { s in
            parameters.values.withUnsafeBufferPointer { w in
                for first in stride(from: 0, to: s.count, by: batch) {
                    let part = UnsafeBufferPointer(rebasing: s[first..<min(first + batch, s.count)])
                    network.forward(part, parameters: w.baseAddress!)
                    for k in 0..<part.count { out[order[first + k]] = network.predictions.pointer[k] }
                }
            }
        }
        return out
    }

    package func evaluate(_ samples: [TrainingSet.Sample]) -> Metrics.Summary {
        Metrics.Summary(predict(samples), samples)
    }

    /// Epochs with early stopping on the valid AUC; ends with the best epoch's weights and every period's figures.
    package func run(progress: Progress? = nil, epochDone: ((TrainingReport.Epoch) -> Void)? = nil) -> TrainingReport {
        let started = Date()
        var report = TrainingReport(long: options.long.rawValue, validTime: data.validTime, testTime: data.testTime)
        report.options = [
            "epochs": "\(options.epochs)", "batch": "\(options.batch)", "lr": "\(options.learningRate)",
            "weight_decay": "\(options.weightDecay)",
            "seed": "\(options.seed)", "patience": "\(options.patience)",
        ]
        var best = (auc: -Double.infinity, epoch: 0, values: parameters.values)
        for epoch in 1...max(options.epochs, 1) {
            let t0 = Date()
            let loss = trainEpoch(epoch, progress: progress)
            let seconds = Date().timeIntervalSince(t0)
            let valid = evaluate(data.valid)
            let e = TrainingReport.Epoch(
                epoch: epoch, trainLoss: loss, valid: valid, seconds: seconds,
                samplesPerSecond: Double(data.train.count) / max(seconds, 1e-9))
            report.epochs.append(e)
            epochDone?(e)
            if let auc = valid.auc, auc > best.auc { best = (auc, epoch, parameters.values) }
            if epoch - best.epoch >= options.patience { break }
        }
        parameters.values = best.values
        report.bestEpoch = best.epoch
        report.train = evaluate(data.train)
        report.valid = evaluate(data.valid)
        report.test = evaluate(data.test)
        report.seconds = Date().timeIntervalSince(started)
        return report
    }

    /// Writes the trained bundle (`model.safetensors` + `vocab.tsv`, MODEL.md v1) into `folder`.
    package func writeBundle(to folder: String) throws {
        let c = initial.config
        var tensors = parameters.namedTensors
        tensors.append(("sdim.projection", [c.m, c.d], initial.projection))
        var metadata = ModelBundle.metadata(
            tau: c.tau, window: c.window, heads: c.heads, projectionSeed: c.projectionSeed,
            text: c.dText > 0 ? (c.textModel ?? ModelBundle.Shape().textModel, c.textLayers ?? 0) : nil,
            feedback: c.feedback, createdBy: "lifelong train")
        metadata["long_term"] = options.long.rawValue
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try Safetensors.write(
            tensors, metadata: metadata, to: (folder as NSString).appendingPathComponent("model.safetensors"))
        try Data(initial.vocabulary.tsv.utf8).write(
            to: URL(fileURLWithPath: (folder as NSString).appendingPathComponent("vocab.tsv")), options: .atomic)
    }
}
