import Offline
import Foundation
import LMDB
import Model
import Replay
import Scorer
import Store
import Testing
import Evaluation
import TestSupport
import Tensors
import BehaviorLog
import TextAtoms
import TextEncoder
@testable import Training

let repositoryRoot = Repository.root

/// A synthetic log where old behaviors drive clicks, small enough to train in a debug build.
func syntheticLog(users: Int = 40, length: ClosedRange<Int> = 10...120) -> Dataset {
    var p = SyntheticLog.Parameters()
    p.users = users; p.items = 300; p.clusters = 12; p.categories = 4; p.length = length; p.seed = 7
    return SyntheticLog(p).generate()
}

/// Trains `long` for `epochs` on `data` from a random bundle written into `folder/initial`; with `textModel`,
/// a text bundle whose atoms come from a `TextAtomCache` in `folder/texts`.
func train(
    _ data: Dataset, long: LongTerm, epochs: Int, folder: String, textModel: MiniLM? = nil,
    feedback: Bool = false
) throws -> (Trainer, TrainingReport) {
    var shape = ModelBundle.Shape()
    shape.feedback = feedback
    shape.dItem = 8; shape.dCat = 4; shape.window = 10; shape.attentionDim = 8; shape.hidden = [16, 8]
    if textModel != nil { shape.dText = 4; shape.textLayers = 1 }
    let initial = try ModelBundle.writeRandom(
        to: folder + "/initial", vocabulary: data.vocabularyIds, shape: shape, seed: 5)
    var atoms: [String: [Float]] = [:]
    if let textModel {
        try FileManager.default.createDirectory(atPath: folder + "/texts", withIntermediateDirectories: true)
        atoms = try TextAtomCache(
            store: try Store(path: folder + "/texts", durability: .noSync), textModel: textModel, layers: 1
        )
        .vectors(forTexts: data.texts).byItem
    }
    let set = try TrainingSet(data, vocabulary: initial.vocabulary, textVectors: atoms)
    var options = TrainingOptions()
    options.long = long; options.epochs = epochs; options.batch = 64; options.learningRate = 3e-3;
    options.patience = epochs
    let trainer = Trainer(initial: initial, data: set, options: options)
    return (trainer, trainer.run())
}

@Suite("Trained bundles")
struct TrainedBundleTests {
    @Test(
        "a trained bundle replays its test period with the trainer's predictions",
        arguments: [LongTerm.sdim, .full, .none])
    func replayAgrees(long: LongTerm) throws {
        try replay(long: long, textModel: nil)
    }

    @Test(
        "a trained v2 bundle (behaviors carry their feedback, some unknown) replays with the trainer's predictions",
        arguments: [LongTerm.sdim, .full, .none])
    func feedbackReplayAgrees(long: LongTerm) throws {
        try replay(long: long, textModel: nil, feedback: true)
    }

    @Test("a trained text bundle (cached all-MiniLM-L6-v2 atoms, W_t trained) replays with the trainer's predictions")
    func textReplayAgrees() throws {
        let data =
            ProcessInfo.processInfo.environment["LIFELONG_DATA"] ?? repositoryRoot.appendingPathComponent("Data").path
        try replay(long: .sdim, textModel: try MiniLM(folder: data + "/all-MiniLM-L6-v2"))
    }

    func replay(long: LongTerm, textModel: MiniLM?, feedback: Bool = false) throws {
        let root = temporaryFolder("replay-\(long)")
        defer { try? FileManager.default.removeItem(atPath: root) }
        var data = syntheticLog()
        if feedback {  // unknown feedback too
            for j in stride(from: 0, to: data.behaviors.count, by: 7) { data.behaviors[j].label = nil }
        }
        let (trainer, report) = try train(
            data, long: long, epochs: 2, folder: root, textModel: textModel, feedback: feedback)
        try trainer.writeBundle(to: root + "/trained")
        let bundle = try ModelBundle(folder: root + "/trained")
        #expect(bundle.createdBy == "lifelong train")
        #expect(bundle.config.feedback == feedback)

        // The replay encodes everything before the test period and scores each later event before appending it.
        let mode: Scorer.Mode =
            switch long {
            case .sdim: .bse;
            case .full: .full;
            case .none: .short
            }
        var options = Replay.Options()
        options.modes = long == .sdim ? [.bse, .online] : [mode]
        options.split = .time(trainer.data.testTime)
        options.durability = .noSync
        #expect(bundle.config.dText == (textModel == nil ? 0 : 4))
        let result = try Replay.run(
            model: bundle, data: data, storeFolder: root + "/store", options: options, textModel: textModel)

        let test = trainer.data.test.sorted { $0.order < $1.order }
        let mine = trainer.predict(test)
        let labelled = result.events.label.indices.filter { result.events.label[$0] != nil }
        try #require(labelled.count == test.count)
        for m in result.modes {
            var worst: Float = 0
            for (k, e) in labelled.enumerated() {
                #expect(bundle.vocabulary.itemRow(result.events.item[e]) == Int(trainer.data.candidate(test[k])))
                #expect(result.events.user[e] == trainer.data.users[Int(test[k].user)])
                #expect(result.events.label[e] == (test[k].label ? 1 : 0))
                worst = max(worst, abs(m.predictions[e] - mine[k]))
            }
            #expect(worst <= 1e-5, "\(long) replayed with \(m.mode): worst difference \(worst)")
            let auc = try #require(m.auc), trainerAUC = try #require(report.test?.auc)
            #expect(abs(auc - trainerAUC) <= 1e-5, "\(m.mode) AUC \(auc) vs trainer \(trainerAUC)")
        }
    }

    @Test("training learns, and SDIM beats the short window on a log where old behaviors drive clicks")
    func learns() throws {
        let root = temporaryFolder("learns")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let data = syntheticLog(users: 100, length: 50...300)
        let (_, sdim) = try train(data, long: .sdim, epochs: 6, folder: root + "/sdim")
        let (_, none) = try train(data, long: .none, epochs: 6, folder: root + "/none")
        let summary =
            "sdim valid \(sdim.epochs.map { $0.valid.auc ?? 0 }) test \(sdim.test?.auc ?? 0); "
            + "none test \(none.test?.auc ?? 0)"
        #expect(sdim.epochs[0].trainLoss > sdim.epochs.last!.trainLoss, "\(summary)")
        #expect(try #require(sdim.test?.auc) > 0.6, "\(summary)")
        #expect(try #require(sdim.test?.auc) > #require(none.test?.auc) + 0.01, "\(summary)")
    }

    @Test("feedback (v2) learns what v1 cannot see: a user's propensity to click, from the labels of the history")
    func feedbackLearnsPropensity() throws {
        let root = temporaryFolder("propensity")
        defer { try? FileManager.default.removeItem(atPath: root) }
        // Items as in the synthetic log, but every user clicks with their own rate, 0.15 or 0.85, whatever the item.
        var data = syntheticLog(users: 80, length: 20...80)
        var rng = Gaussian(seed: 11)
        var rate: [String: Float] = [:]
        for j in data.behaviors.indices {
            let user = data.behaviors[j].user
            if rate[user] == nil { rate[user] = rng.uniform() < 0.5 ? 0.15 : 0.85 }
            data.behaviors[j].label = rng.uniform() < rate[user]!
        }
        let (_, v1) = try train(data, long: .sdim, epochs: 3, folder: root + "/v1")
        let (_, v2) = try train(data, long: .sdim, epochs: 3, folder: root + "/v2", feedback: true)
        let a1 = try #require(v1.test?.auc), a2 = try #require(v2.test?.auc)
        #expect(a2 > 0.7, "v2 test AUC \(a2), v1 \(a1)")
        #expect(a2 > a1 + 0.1, "v2 test AUC \(a2), v1 \(a1)")
    }

    @Test("the same seed gives the same bundle")
    func deterministic() throws {
        let root = temporaryFolder("determinism")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let data = syntheticLog()
        let (a, _) = try train(data, long: .sdim, epochs: 1, folder: root + "/a")
        let (b, _) = try train(data, long: .sdim, epochs: 1, folder: root + "/b")
        try a.writeBundle(to: root + "/a/out")
        try b.writeBundle(to: root + "/b/out")
        #expect(
            try ModelBundle(folder: root + "/a/out").fingerprint == ModelBundle(folder: root + "/b/out").fingerprint)
    }
}
