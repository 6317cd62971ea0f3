import BehaviorLog
import Evaluation
import Histogram
import Model
import Scorer
import Tensors

/// The replay's loop over the events after the split, and what it measures: every event scored in each mode
/// (the ranking requests timed), then appended (timed).
///
/// Events go in groups of consecutive events with distinct users whose items the store already knows: every
/// event of a group is scored, then the group is appended. A user's scores depend on their own record only
/// (and an item's category on its record), so each event still sees exactly the events before it; and the
/// appends run back to back, so their timings measure the append, not the cache left behind by a
/// full-attention request over a long sequence.
final class ReplaySession {
    let scorer: Scorer
    let data: Dataset
    let events: [Behavior]
    let options: Replay.Options
    let modes: [Scorer.Mode]
    /// The catalog candidates are drawn from, in byte order.
    private let pool: [String]
    private var rng: Gaussian
    /// Each user's sequence length so far, and the items the store knows.
    private var lengths: [String: Int] = [:]
    private var known: Set<String>
    private var rankedPerBucket: [Int: Int] = [:]

    private(set) var requests: [LatencyTable]
    private(set) var longTerm: [LatencyTable]
    private(set) var appends = LatencyTable()
    /// Per mode, the prediction for each event's item.
    private(set) var predictions: [[Float]]
    /// Each event's sequence length when it was scored.
    private(set) var eventLengths: [Int]

    private var candidates: [String] = []
    private var out: [Float]
    private var longOut: [Float]

    init(
        scorer: Scorer, data: Dataset, history: ArraySlice<Behavior>, events: [Behavior], options: Replay.Options,
        pool: [String]
    ) {
        self.scorer = scorer
        self.data = data
        self.events = events
        self.options = options
        self.pool = pool
        modes = options.modes
        rng = Gaussian(seed: options.seed)
        for b in history { lengths[b.user, default: 0] += 1 }
        known = Set(data.items.keys)
        for b in history { known.insert(b.item) }
        requests = modes.map { _ in LatencyTable() }
        longTerm = modes.map { _ in LatencyTable() }
        predictions = modes.map { _ in [Float](repeating: .nan, count: events.count) }
        eventLengths = [Int](repeating: 0, count: events.count)
        candidates.reserveCapacity(options.candidates)
        out = [Float](repeating: 0, count: options.candidates)
        longOut = [Float](repeating: 0, count: options.candidates * scorer.model.config.d)
    }

    /// Every event, group by group.
    func run(progress: Replay.Progress?) throws {
        var groupUsers = Set<String>()
        var next = 0
        while next < events.count {
            var end = next
            groupUsers.removeAll(keepingCapacity: true)
            while end < events.count, !groupUsers.contains(events[end].user),
                end == next || known.contains(events[end].item)
            {
                groupUsers.insert(events[end].user)
                end += 1
            }
            for index in next..<end { try score(index) }
            for index in next..<end { try append(index) }
            next = end
            progress?(next, events.count)
        }
    }

    /// Scores event `index` in every mode: its item alone, or a ranking request with sampled candidates.
    private func score(_ index: Int) throws {
        let event = events[index]
        let length = lengths[event.user, default: 0]
        eventLengths[index] = length
        let bucket = LengthBucket.index(length)
        let ranking =
            options.candidates > 1
            && (index % options.rankEvery == 0
                || rankedPerBucket[bucket, default: 0] < options.minimumRankedPerBucket)
        if ranking { rankedPerBucket[bucket, default: 0] += 1 }
        candidates.removeAll(keepingCapacity: true)
        candidates.append(event.item)
        if ranking { for _ in 1..<options.candidates { candidates.append(pool.randomElement(using: &rng)!) } }
        let timed = ranking || options.candidates == 1
        // Rotate which mode goes first, so no mode always pays for the cold read of the user's record.
        for k in 0..<modes.count {
            let m = (k + index) % modes.count
            let t0 = Timing.nanoseconds()
            try out.withUnsafeMutableBufferPointer {
                try scorer.score(user: event.user, candidates: candidates, mode: modes[m], into: $0)
            }
            let t1 = Timing.nanoseconds()
            predictions[m][index] = out[0]
            guard timed else { continue }
            requests[m].record(t1 - t0, length: length)
            if ranking {
                let t2 = Timing.nanoseconds()
                try longOut.withUnsafeMutableBufferPointer {
                    try scorer.longTermInterest(user: event.user, candidates: candidates, mode: modes[m], into: $0)
                }
                longTerm[m].record(Timing.nanoseconds() - t2, length: length)
            }
        }
    }

    /// Appends event `index` through the scorer's writer.
    private func append(_ index: Int) throws {
        let event = events[index]
        let t0 = Timing.nanoseconds()
        try scorer.append(
            user: event.user, item: event.item, timestamp: event.timestamp, label: event.label,
            category: data.items[event.item]?.category)
        appends.record(Timing.nanoseconds() - t0, length: eventLengths[index])
        lengths[event.user] = eventLengths[index] + 1
        known.insert(event.item)
    }

    /// Each mode's accuracy over the labelled events and its latencies.
    func modeResults() -> [ReplayResult.ModeResult] {
        let labelled = events.indices.filter { events[$0].label != nil }
        let labels = labelled.map { events[$0].label! }
        return modes.enumerated().map { m, mode in
            let p = labelled.map { predictions[m][$0] }
            let hasLongTerm = longTerm[m].all.totalCount > 0
            return ReplayResult.ModeResult(
                mode: mode.rawValue, auc: Metrics.auc(p, labels), logloss: Metrics.logloss(p, labels),
                requests: requests[m].summary(), requestsByLength: requests[m].byLength(),
                longTerm: hasLongTerm ? longTerm[m].summary() : nil,
                longTermByLength: hasLongTerm ? longTerm[m].byLength() : nil,
                requestsPerSecond: requests[m].all.totalCount > 0 ? 1e9 / requests[m].all.mean : nil,
                predictions: predictions[m])
        }
    }
}
