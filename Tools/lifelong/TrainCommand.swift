import Evaluation
import Tensors
import BehaviorLog
public import ArgumentParser
import Offline
import Foundation
import Model
import Store
import TextEncoder
import Training

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Train a bundle on a behavior log (v2, whose history behaviors carry their feedback, when the log has "
            + "labels; v1 with --no-feedback): time split 80/10/10, Adam, early stopping on the valid AUC.",
        discussion: """
            Samples are the log's labelled behaviors; each one's history is every earlier behavior of its user in \
            (timestamp, item id) order — what the store and the replay see. The log is split by time: train before \
            the 80 % point, valid to the 90 % point, test after. --long picks the long-term interest: sdim (SDIM \
            Eq. 12 over the whole history, scored with the bse mode), full (exact attention over the whole history, \
            the `full` mode) or none (the short window alone, the `short` mode). With --text-layers K each \
            distinct item text is embedded once by the text model's first K layers and cached in --text-store; \
            training reads the cache and never runs the language model per step. When the log has labels (a rating \
            or label column), each history behavior also carries what its label said (unknown, not clicked, clicked) \
            as a learned vector added to its embedding: a lifelong.model.v2 bundle, which on rating logs such as \
            MovieLens is what lets the history say whether the user liked similar items (--no-feedback: v1). \
            Without --lr, a run per learning rate of a small set, all from the same initial weights, keeps the one \
            with the best valid AUC (the test split never chooses). \
            Batches are groups of whole users (about --batch samples; a user with more is a batch alone), so SDIM \
            reads running bucket sums in one causal pass per user: its cost per sample does not grow with the \
            history. Writes OUT/model.safetensors, \
            OUT/vocab.tsv and OUT/training.json (every epoch's figures, the final train/valid/test AUC and \
            logloss, and each learning rate tried); OUT is replaced only when training has finished.
            """
    )
    @OptionGroup var input: DataOptions
    @Option(help: "Bundle folder to write.") var out: String
    @Option(help: "Long-term interest: sdim, full or none.") var long: LongTerm = .sdim
    @Option(help: "Most epochs: a safety net, since early stopping (--patience) ends a run; reaching it is reported.")
    var epochs = TrainingOptions().epochs
    @Option(help: "Samples per mini-batch (batches are whole users; a user with more samples is a batch alone).")
    var batch = TrainingOptions().batch
    @Option(
        help: ArgumentHelp(
            "Adam learning rate (default: each of "
                + TrainingOptions.searchedLearningRates.map { "\($0)" }.joined(separator: ", ")
                + ", keeping the run with the best valid AUC)."))
    var lr: Float?
    @Option(help: "AdamW decoupled weight decay (0 = plain Adam).") var weightDecay: Float = 0
    @Option(help: "Epochs without a better valid AUC before stopping.") var patience = TrainingOptions().patience
    @Option(help: "Seed: the projection (recorded as projection_seed), the initial weights and the sample order.")
    var seed: UInt64 = 1
    @OptionGroup var shape: ShapeOptions
    @OptionGroup var text: TextModelOption
    @Option(help: "Store folder whose texts database caches the text atoms (created if missing).") var textStore =
        "Output/text-cache"
    @Flag(help: "Also train a logistic regression on user and item ids on the same split and report its AUC.")
    var baseline = false
    @Option(help: "Also write the test period's predictions here, as JSON Lines {user, item, timestamp, label, p}.")
    var predictions: String?
    @Flag(help: "No progress on stderr.") var quiet = false

    func validate() throws {
        guard epochs >= 1, batch >= 1, patience >= 1 else {
            throw ValidationError("--epochs, --batch and --patience must be ≥ 1")
        }
        if let lr { guard lr > 0 else { throw ValidationError("--lr must be positive") } }
    }

    func run() throws {
        let data = try Dataset.load(input.data, ratingThreshold: input.ratingThreshold)
        var job = TrainingJob(
            out: out, shape: shape.shape(feedbackByDefault: data.behaviors.contains { $0.label != nil }))
        job.seed = seed
        job.options.long = long
        job.options.epochs = epochs; job.options.batch = batch
        if let lr { job.options.learningRate = lr } else { job.learningRates = TrainingOptions.searchedLearningRates }
        job.options.weightDecay = weightDecay; job.options.patience = patience
        job.textModelFolder = text.textModel
        job.textStore = textStore
        job.baseline = baseline
        job.predictionsPath = predictions
        job.command = CommandLine.arguments.joined(separator: " ")
        let progress = ProgressLine(quiet: quiet, unit: "samples")
        var observer = TrainingJob.Observer()
        observer.log = log
        observer.progress = { _, done, total, loss in progress.update(done, total, String(format: "  loss %.4f", loss))
        }
        observer.epochDone = { e in
            progress.restart()
            log(
                String(
                    format: "epoch %d: train loss %.4f, valid AUC %.4f, logloss %.4f (%.0f samples/s)",
                    e.epoch, e.trainLoss, e.valid.auc ?? .nan, e.valid.logloss ?? .nan, e.samplesPerSecond))
        }
        observer.candidateStarts = { k, n, rate in
            progress.restart()
            log("learning rate \(rate) (run \(k) of \(n); the best valid AUC is kept)")
        }
        observer.candidateDone = { c in
            log(
                String(
                    format: "learning rate %g: valid AUC %.4f, best epoch %d of %d, %.1f s%@", c.learningRate,
                    c.validAUC ?? .nan, c.bestEpoch, c.epochs, c.seconds,
                    c.stoppedByEpochCap ? " (still improving at --epochs)" : ""))
        }
        let outcome = try job.run(data, observer: observer)
        let report = outcome.report
        if let atoms = outcome.textAtoms {
            print(
                "text atoms (first \(outcome.bundle.config.textLayers ?? 0) layers): \(atoms.computed) computed, "
                    + "\(atoms.found) found in the cache \(textStore)")
        }
        func figures(_ e: Metrics.Summary?) -> String {
            String(format: "AUC %.4f, logloss %.4f", e?.auc ?? .nan, e?.logloss ?? .nan)
        }
        if let candidates = report.candidates, let kept = report.kept {
            let tried = candidates.map { c in
                String(format: "%g (valid AUC %.4f, %.1f s)", c.learningRate, c.validAUC ?? .nan, c.seconds)
            }
            print("learning rates tried: \(tried.joined(separator: ", ")); kept \(candidates[kept].learningRate)")
        }
        print("\(long): best epoch \(report.bestEpoch) of \(report.epochs.count)")
        if report.stoppedByEpochCap(epochs) {
            print("  still improving when --epochs \(epochs) ended it: a larger --epochs may give a better model")
        }
        print("  train \(figures(report.train)) (\(outcome.samples.train) samples)")
        print("  valid \(figures(report.valid)) (\(outcome.samples.valid) samples)")
        print("  test  \(figures(report.test)) (\(outcome.samples.test) samples)")
        if let lr = report.options["lr_baseline_test_auc"] {
            print("  logistic regression on user and item ids: test AUC \(lr)")
        }
        print("wrote \(out) (fingerprint \(outcome.bundle.fingerprintHex)); score it with mode \(long.scoringMode)")
    }

    private func log(_ line: String) {
        if !quiet { FileHandle.standardError.write(Data((line + "\n").utf8)) }
    }
}

extension LongTerm: ExpressibleByArgument {
    /// The scorer mode that computes this variant's long-term term.
    var scoringMode: String {
        switch self {
        case .sdim: "bse (or online)"
        case .full: "full"
        case .none: "short"
        }
    }
}
