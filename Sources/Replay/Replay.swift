import Tensors
public import BehaviorLog
public import Errors
import Offline
import Dispatch
import Evaluation
import Foundation
import Histogram
public import LMDB
public import Model
public import Scorer
public import Store
public import TextEncoder
#if canImport(Glibc)
import Glibc
#endif

/// Prequential replay of a behavior log through the scorer: the part of the log before a split time is
/// encoded into a fresh store, then every later event, in (timestamp, item id, user id) order, is first
/// scored in each mode (before its label is known) and then appended through the scorer's writer. The
/// store is never rebuilt during the replay.
public struct Replay {
    public struct Options: Sendable {
        /// Modes scored on every event, all against the same store state.
        public var modes: [Scorer.Mode] = Scorer.Mode.allCases
        /// Candidates per ranking request: the event's item plus `candidates − 1` items drawn uniformly (with
        /// replacement) from the catalog. 1 = score the event's item alone.
        public var candidates = 1
        /// With `candidates > 1`, every `rankEvery`-th event gets the ranking request — and so does every
        /// event whose sequence-length bucket has had fewer than `minimumRankedPerBucket` so far, so that
        /// short histories, rare in a long-sequence log, are timed too. The others score the event's item
        /// alone. Latency figures come from the ranking requests only.
        public var rankEvery = 1
        public var minimumRankedPerBucket = 30
        /// Where history ends and the replay begins.
        public var split: Split = .quantile(0.9)
        /// Replay at most this many events (the first ones after the split).
        public var maxEvents: Int?
        /// Durability of the replay's store (appends commit one write transaction each).
        public var durability: Environment.Durability = .full
        public var precision: UserRecord.Precision = .f32
        /// Seed for the sampled candidates.
        public var seed: UInt64 = 1
        public init() {}
    }

    public typealias Split = TimeSplit

    /// Options the replay cannot run with, or a store folder that already exists: `invalidArgument`.
    /// Progress: (events done, events total).
    public typealias Progress = (Int, Int) -> Void

    /// Runs the replay: encodes the history into a new store at `storeFolder` (which must not exist), then
    /// scores and appends every later event. `textModel`: for a bundle with a text projection (item texts are
    /// embedded once into the new store's cache).
    public static func run(
        model: ModelBundle, data: Dataset, storeFolder: String, options: Options,
        textModel: MiniLM? = nil, progress: Progress? = nil
    ) throws -> ReplayResult {
        try validate(options, storeFolder: storeFolder)
        let started = Date()
        let all = Dataset.ordered(data.behaviors)
        let split = Dataset.splitTime(options.split, ordered: all)
        let history = all.prefix { $0.timestamp < split }
        var events = Array(all[history.count...])
        if let cap = options.maxEvents { events = Array(events.prefix(max(cap, 0))) }
        guard !events.isEmpty else {
            throw LifelongError(
                .invalidArgument, message: "nothing to replay after the split time \(Behavior.text(ofTimestamp: split))"
            )
        }

        // 1. The history, encoded once.
        try FileManager.default.createDirectory(atPath: storeFolder, withIntermediateDirectories: true)
        let store = try Store(path: storeFolder, durability: options.durability)
        let encoder = try BehaviorEncoder(
            model: model, store: store, precision: options.precision, textModel: textModel)
        let encodeReport = try encoder.encode(Dataset(behaviors: Array(history), items: data.items))

        // 2. The replay.
        let scorer = try Scorer(model: model, store: store, writable: true, textModel: textModel)
        var catalog = Set(data.items.keys)
        for b in all { catalog.insert(b.item) }
        let session = ReplaySession(
            scorer: scorer, data: data, history: history, events: events, options: options,
            pool: catalog.sorted { $0.precedesInByteOrder($1) })
        try session.run(progress: progress)

        // 3. The figures.
        var result = ReplayResult(
            model: .init(
                folder: model.folder, fingerprint: model.fingerprintHex, createdBy: model.createdBy, d: model.config.d,
                signatures: model.config.signatures, buckets: model.config.buckets, window: model.config.window),
            data: .init(
                behaviors: all.count, users: Set(all.map(\.user)).count, items: catalog.count,
                splitTime: split.isFinite ? split : nil, historyBehaviors: history.count,
                replayedEvents: events.count, labelledEvents: events.filter { $0.label != nil }.count,
                encodeSeconds: encodeReport.seconds),
            candidates: options.candidates, rankEvery: options.rankEvery,
            minimumRankedPerBucket: options.minimumRankedPerBucket,
            durability: "\(options.durability)", precision: options.precision.name,
            modes: session.modeResults(), appends: session.appends.summary(),
            appendsByLength: session.appends.byLength(),
            storeBytes: store.environment.usedBytes, peakMemoryBytes: Timing.peakResidentBytes(),
            seconds: Date().timeIntervalSince(started),
            events: .init(
                user: events.map(\.user), item: events.map(\.item), timestamp: events.map(\.timestamp),
                label: events.map { $0.label.map { $0 ? 1 : 0 } }, length: session.eventLengths))
        result.ratios = result.measuredRatios()
        return result
    }

    /// Options the replay cannot run with, and a store folder that exists already.
    private static func validate(_ options: Options, storeFolder: String) throws {
        guard !options.modes.isEmpty else { throw LifelongError(.invalidArgument, message: "no modes to replay") }
        guard options.candidates >= 1, options.rankEvery >= 1 else {
            throw LifelongError(.invalidArgument, message: "candidates and rank-every must be ≥ 1")
        }
        if case .quantile(let q) = options.split, !(0..<1).contains(q) {
            throw LifelongError(.invalidArgument, message: "split quantile \(q) is outside [0, 1)")
        }
        guard !FileManager.default.fileExists(atPath: storeFolder) else {
            throw LifelongError(
                .invalidArgument,
                message:
                    "\(storeFolder) already exists; the replay builds its own store (remove it or choose another "
                    + "folder)"
            )
        }
    }
}

/// Latency histograms (nanoseconds, 3 significant digits): one overall and one per length bucket.
struct LatencyTable {
    var all = LatencyTable.histogram()
    var buckets: [Int: Histogram<UInt64>] = [:]

    static func histogram() -> Histogram<UInt64> {
        Histogram<UInt64>(
            lowestDiscernibleValue: 100, highestTrackableValue: 600_000_000_000, numberOfSignificantValueDigits: .three)
    }

    mutating func record(_ nanoseconds: UInt64, length: Int) {
        let v = max(nanoseconds, 100)
        _ = all.record(v)
        _ = buckets[LengthBucket.index(length), default: Self.histogram()].record(v)
    }

    func summary() -> ReplayResult.Latency { ReplayResult.Latency(all) }

    func byLength() -> [ReplayResult.BucketLatency] {
        buckets.keys.sorted().map {
            ReplayResult.BucketLatency(bucket: LengthBucket(index: $0), latency: .init(buckets[$0]!))
        }
    }
}

/// Sequence-length buckets half a decade wide, centred on 10^(k/2): L = 0 alone, then [10^(c−¼), 10^(c+¼)).
public struct LengthBucket: Codable, Sendable, Equatable {
    /// 0 for L = 0; k + 1 for the bucket centred on 10^(k/2).
    public let index: Int
    /// The centre as a power of ten (nil for L = 0).
    public var exponent: Double? { index == 0 ? nil : Double(index - 1) / 2 }
    /// The smallest and largest length in the bucket.
    public var lowest: Int { index == 0 ? 0 : Int((pow(10, exponent! - 0.25)).rounded(.up)) }
    public var highest: Int { index == 0 ? 0 : Int((pow(10, exponent! + 0.25)).rounded(.up)) - 1 }

    public init(index: Int) { self.index = index }

    public static func index(_ length: Int) -> Int {
        guard length > 0 else { return 0 }
        var k = Int((2 * log10(Double(length)) + 0.5).rounded(.down))
        // Guard the edges against rounding in log10.
        while k > 0, Double(length) < pow(10, (Double(k) - 0.5) / 2) { k -= 1 }
        while Double(length) >= pow(10, (Double(k) + 0.5) / 2) { k += 1 }
        return k + 1
    }

    /// "≈10^2 (57–177)".
    public var label: String {
        guard let e = exponent else { return "0" }
        let power = e == e.rounded() ? "10^\(Int(e))" : "10^\(e)"
        return "≈\(power) (\(lowest)–\(highest))"
    }
}

/// Monotonic time and peak memory for the report (not Swift's `Clock` protocol).
enum Timing {
    static func nanoseconds() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Peak resident set size of this process (Linux reports `ru_maxrss` in KiB).
    static func peakResidentBytes() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Int(usage.ru_maxrss) * 1024
    }
}
