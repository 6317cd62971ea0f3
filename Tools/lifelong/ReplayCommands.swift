import Errors
import BehaviorLog
import ArgumentParser
import Offline
import Foundation
import LMDB
import Model
import Replay
import Scorer
import TextEncoder

struct Synth: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Write a seeded synthetic RecBole dataset with long sequences and a hidden click model in which old "
            + "behaviors matter.",
        discussion: """
            Items sit in clusters (cluster = item mod clusters; category c(cluster mod categories)); each user has \
            core interests, fixed and rarely browsed, and current interests that drift. Each behavior is from a \
            core cluster (--core-rate), a current one (--current-rate) or a random item. Click probability: \
            σ(bias + quality(item) + affinity-weight·√a), a = the share of the user's whole earlier history in the \
            item's cluster, so interests that drifted out of the recent window still drive clicks. Lengths are \
            log-uniform in \
            --length and every user's behaviors spread over the same --span-days, so a split by time cuts every \
            user at about the same fraction. The same parameters and seed always give the same files. \
            Output: OUT/NAME.inter (user_id, item_id, timestamp, label) and OUT/NAME.item (item_id, class, title), \
            NAME being OUT's last path component.
            """
    )
    @Option(help: "Dataset folder to write.") var out: String
    @Option(help: "Users.") var users = 200
    @Option(help: "Items.") var items = 20_000
    @Option(help: "Item clusters.") var clusters = 100
    @Option(help: "Categories.") var categories = 20
    @Option(help: "Sequence length range min,max (log-uniform).") var length = "100,10000"
    @Option(help: "Core interests per user.") var coreInterests = 2
    @Option(help: "Current (drifting) interests per user.") var currentInterests = 3
    @Option(help: "Share of behaviors from a core cluster.") var coreRate = 0.05
    @Option(help: "Share of behaviors from a current cluster.") var currentRate = 0.6
    @Option(help: "Expected interest changes over a user's whole sequence.") var drifts = 4.0
    @Option(help: "Click logit bias.") var bias = -2.0
    @Option(help: "Click logit weight of √(share of the user's earlier history in the item's cluster).")
    var affinityWeight = 5.0
    @Option(help: "Days the log spans.") var spanDays = 365.0
    @Option(help: "Seed.") var seed: UInt64 = 1

    func parameters() throws -> SyntheticLog.Parameters {
        var p = SyntheticLog.Parameters()
        let l = length.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard l.count == 2, let lo = l[0], let hi = l[1], lo >= 1, lo <= hi else {
            throw ValidationError("--length must be min,max with 1 ≤ min ≤ max, e.g. 100,10000")
        }
        p.users = users; p.items = items; p.clusters = clusters; p.categories = categories; p.length = lo...hi
        p.coreInterests = coreInterests; p.currentInterests = currentInterests; p.coreRate = coreRate;
        p.currentRate = currentRate
        p.drifts = drifts; p.bias = bias; p.affinityWeight = affinityWeight
        p.spanDays = spanDays; p.seed = seed
        do { try p.validate() } catch let e as LifelongError {
            throw ValidationError(e.message)
        }
        return p
    }

    func validate() throws { _ = try parameters() }

    func run() throws {
        let data = SyntheticLog(try parameters()).generate()
        try SyntheticLog.writeRecBole(data, to: out)
        let clicks = data.behaviors.reduce(0) { $0 + ($1.label == true ? 1 : 0) }
        print(
            "wrote \(out): \(users) users, \(data.behaviors.count) behaviors, \(items) items, click rate "
                + String(format: "%.3f", Double(clicks) / Double(data.behaviors.count)))
    }
}

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract:
            "Replay a log in time order through the scorer: score every event in each mode, then append it; report "
            + "accuracy and speed.",
        discussion: """
            The log before the split is encoded into REPORT/store; every later event, in (timestamp, item id, \
            user id) order, is scored in each mode before its label is used (prequential), then appended through \
            the scorer's writer. Writes REPORT/report.md, REPORT/report.json (every figure and every prediction) \
            and REPORT/latency.svg. Refuses to run from a debug build.
            """
    )
    @Option(help: "Model bundle folder.") var model: String
    @OptionGroup var input: DataOptions
    @Option(help: "Report folder (created; its store/ subfolder must not exist).") var report: String
    @Option(help: "Modes, comma-separated: bse, online, full, short (default: all four).", transform: Scorer.Mode.list)
    var modes: [Scorer.Mode] = Scorer.Mode.allCases
    @Option(help: "Candidates per ranking request: the event's item + B−1 sampled items.") var candidates = 1
    @Option(help: "With --candidates > 1, the ranking request on every Nth event (others score their item alone).")
    var rankEvery = 1
    @Option(help: "…and on every event of a sequence-length bucket that has had fewer ranking requests than this.")
    var minRankedPerBucket = 30
    @Option(help: "History = the log before this fraction of its events in time order (0 = start empty).") var split =
        0.9
    @Option(help: "History = the log before this timestamp (instead of --split).") var splitTime: Double?
    @Option(help: "Replay at most this many events.") var maxEvents: Int?
    @Option(help: "Store durability: full (fsync per commit), nometasync, nosync.")
    var durability: DurabilityOption = .full
    @Option(help: "Seed for the sampled candidates.") var seed: UInt64 = 1
    @OptionGroup var text: TextModelOption
    @Flag(help: "No progress on stderr.") var quiet = false

    func validate() throws {
        guard candidates >= 1, rankEvery >= 1 else {
            throw ValidationError("--candidates and --rank-every must be ≥ 1")
        }
        guard (0..<1).contains(split) else { throw ValidationError("--split must be in [0, 1)") }
    }

    func run() throws {
        #if DEBUG
        throw ValidationError(
            "replay refuses to report from a debug build (its timings would mislead): build with "
                + "`swift build -c release` and run .build/release/lifelong"
        )
        #else
        let bundle = try ModelBundle(folder: model)
        let data = try Dataset.load(input.data, ratingThreshold: input.ratingThreshold)
        var options = Replay.Options()
        options.modes = modes
        options.candidates = candidates
        options.rankEvery = rankEvery
        options.minimumRankedPerBucket = minRankedPerBucket
        options.split = splitTime.map { .time($0) } ?? .quantile(split)
        options.maxEvents = maxEvents
        options.durability = durability.durability
        options.seed = seed
        let storeFolder = (report as NSString).appendingPathComponent("store")
        let progress = ProgressLine(quiet: quiet, unit: "events")
        var result = try Replay.run(
            model: bundle, data: data, storeFolder: storeFolder, options: options,
            textModel: try text.load(for: bundle), progress: progress.update)
        let info = ProcessInfo.processInfo
        result.provenance = [
            "command": CommandLine.arguments.map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " "),
            "build": "release, lifelong \(LifelongVersion.string)",
            "machine": "\(info.activeProcessorCount) cores, \(info.physicalMemory >> 30) GiB",
            "date": ISO8601DateFormatter().string(from: Date()),
        ]
        try Report.write(result, to: report)
        for m in result.modes {
            print(
                "\(m.mode): AUC \(m.auc.map { String(format: "%.4f", $0) } ?? "n/a"), "
                    + "p50 \(String(format: "%.3f", m.requests.p50 / 1000)) ms"
            )
        }
        for r in result.ratios {
            let goal = r.goal == "—" ? "" : " (goal \(r.goal))"
            print("\(r.name) = \(String(format: "%.2f", r.value))\(goal): \(r.meaning)")
        }
        print("report: \(report)/report.md, report.json, latency.svg")
        #endif
    }
}

extension Scorer.Mode {
    /// `--modes bse,full`: one or more scoring modes, comma-separated, naming the one it does not know.
    static func list(_ argument: String) throws -> [Scorer.Mode] {
        let parts = argument.split(separator: ",")
        guard !parts.isEmpty else { throw ValidationError("--modes: give at least one mode") }
        return try parts.map {
            guard let m = Scorer.Mode(rawValue: String($0)) else {
                throw ValidationError("--modes: unknown mode '\($0)' (bse, online, full, short)")
            }
            return m
        }
    }
}

/// `--durability`: how the replay's store commits reach the disk.
enum DurabilityOption: String, ExpressibleByArgument, CaseIterable, Sendable {
    case full, sync, nometasync, nosync
    var durability: Environment.Durability {
        switch self {
        case .full, .sync: .full
        case .nometasync: .noMetaSync
        case .nosync: .noSync
        }
    }
}
