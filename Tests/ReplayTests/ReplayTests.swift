import Errors
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import Evaluation
import Tensors
import BehaviorLog
import TestSupport
import Offline
import LMDB
import Model
import Replay
import Scorer
import Store

/// AUC by its definition: over every (positive, negative) pair, 1 if the positive is scored higher, ½ on a tie.
func pairwiseAUC(_ p: [Double], _ y: [Bool]) -> Double {
    var wins = 0.0, pairs = 0.0
    for i in p.indices where y[i] {
        for j in p.indices where !y[j] {
            pairs += 1
            wins += p[i] > p[j] ? 1 : p[i] == p[j] ? 0.5 : 0
        }
    }
    return wins / pairs
}

@Suite struct MetricsTests {
    @Test func aucMatchesThePairwiseDefinition() {
        var g = Gaussian(seed: 5)
        for trial in 0..<20 {
            let n = 5 + trial * 7
            // Predictions on a coarse grid, so ties are common.
            let p = (0..<n).map { _ in Float(g.bits() % 9) / 8 }
            let y = (0..<n).map { i in g.uniform() < 0.3 + 0.4 * p[i] }
            guard y.contains(true), y.contains(false) else { continue }
            let got = Metrics.auc(p, y)!
            #expect(abs(got - pairwiseAUC(p.map(Double.init), y)) < 1e-12, "trial \(trial)")
        }
        #expect(Metrics.auc([0.1, 0.9], [true, true]) == nil)
        #expect(Metrics.auc([0.1, 0.9], [false, true]) == 1)
        #expect(Metrics.auc([0.9, 0.1], [false, true]) == 0)
    }

    @Test func loglossIsTheMeanCrossEntropy() {
        let p: [Float] = [0.9, 0.2, 0.5, 0]
        let y = [true, false, true, false]
        let want = -(log(0.9) + log(0.8) + log(0.5) + log(1 - 1e-7)) / 4
        #expect(abs(Metrics.logloss(p, y)! - want) < 1e-6)
        #expect(Metrics.logloss([], []) == nil)
    }

    @Test func lengthBucketsCoverEveryLengthOnce() {
        for length in 0...20_000 {
            let b = LengthBucket(index: LengthBucket.index(length))
            #expect(b.lowest <= length && length <= b.highest, "L = \(length) in \(b.label)")
        }
        #expect(LengthBucket(index: LengthBucket.index(100)).label == "≈10^2 (57–177)")
        #expect(LengthBucket.index(56) == LengthBucket.index(57) - 1)
        #expect(LengthBucket.index(177) == LengthBucket.index(178) - 1)
    }
}

@Suite struct SyntheticTests {
    func small(seed: UInt64 = 3) -> SyntheticLog.Parameters {
        var p = SyntheticLog.Parameters()
        p.users = 40; p.items = 600; p.clusters = 30; p.categories = 6; p.length = 200...1500; p.seed = seed
        return p
    }

    @Test func deterministicOrderedAndWithinRange() throws {
        let a = SyntheticLog(small()).generate(), b = SyntheticLog(small()).generate()
        #expect(a.behaviors == b.behaviors)
        #expect(a.behaviors != SyntheticLog(small(seed: 4)).generate().behaviors)
        let byUser = Dictionary(grouping: a.behaviors, by: \.user)
        #expect(byUser.count == 40)
        for (user, bs) in byUser {
            #expect((200...1500).contains(bs.count), "user \(user) has \(bs.count) behaviors")
            #expect(
                zip(bs, bs.dropFirst()).allSatisfy { $0.timestamp <= $1.timestamp }, "user \(user) out of time order")
        }
        #expect(a.behaviors.allSatisfy { a.items[$0.item] != nil && $0.label != nil })
    }

    /// The hidden truth makes old behaviors matter: how often the event's cluster occurs in the user's whole
    /// history predicts the click better than how often it occurs in the last 50 behaviors.
    @Test func oldBehaviorsPredictClicksBetterThanTheWindow() throws {
        let p = small()
        let data = SyntheticLog(p).generate()
        var whole: [Double] = [], window: [Double] = [], labels: [Bool] = []
        for (_, bs) in Dictionary(grouping: data.behaviors, by: \.user) {
            var counts = [Int](repeating: 0, count: p.clusters)
            for (i, b) in bs.enumerated() {
                let k = (Int(b.item)! - 1) % p.clusters
                if i >= 100 {
                    whole.append(Double(counts[k]) / Double(i))
                    window.append(Double(bs[(i - 50)..<i].filter { (Int($0.item)! - 1) % p.clusters == k }.count) / 50)
                    labels.append(b.label!)
                }
                counts[k] += 1
            }
        }
        let aucWhole = Metrics.auc(whole.map(Float.init), labels)!,
            aucWindow = Metrics.auc(window.map(Float.init), labels)!
        #expect(aucWhole > aucWindow + 0.02, "whole history \(aucWhole) vs last 50 \(aucWindow)")
    }

    @Test func recBoleFilesReadBackAsGenerated() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "lifelong-synth-\(UUID().uuidString)/mini"
        ).path
        defer { try? FileManager.default.removeItem(atPath: (folder as NSString).deletingLastPathComponent) }
        var p = small()
        p.users = 5; p.length = 10...30
        let data = SyntheticLog(p).generate()
        try SyntheticLog.writeRecBole(data, to: folder)
        let back = try Dataset.load(folder)
        #expect(back.behaviors == data.behaviors)
        #expect(back.items == data.items)
    }
}

/// A random bundle (weights widened so predictions spread) over a small synthetic log.
final class ReplayFixture: @unchecked Sendable {
    let root = temporaryFolder("replay")
    let data: Dataset
    let model: ModelBundle

    init() throws {
        var p = SyntheticLog.Parameters()
        p.users = 12; p.items = 300; p.clusters = 20; p.categories = 5; p.length = 5...400; p.seed = 9
        data = SyntheticLog(p).generate()
        var shape = ModelBundle.Shape()
        shape.dItem = 12; shape.dCat = 4; shape.m = 12; shape.window = 8; shape.attentionDim = 8;
        shape.hidden = [16, 8]
        // Items 1…250 in the vocabulary; the rest use row 0.
        try ModelBundle.writeRandom(
            to: root + "/model", items: (1...250).map(String.init), categories: (0..<5).map { "c\($0)" },
            shape: shape, seed: 4)
        try ModelBundle.scaleWeights(in: root + "/model", embeddings: 10, linear: 3)
        model = try ModelBundle(folder: root + "/model")
    }

    /// Replays the fixture's log into `root + folder` (no fsync).
    func replay(
        candidates: Int, rankEvery: Int, minimumRanked: Int, split: Double, modes: [Scorer.Mode] = Scorer.Mode.allCases,
        into folder: String
    ) throws -> ReplayResult {
        var options = Replay.Options()
        options.candidates = candidates
        options.rankEvery = rankEvery
        options.minimumRankedPerBucket = minimumRanked
        options.split = .quantile(split)
        options.durability = .noSync
        options.modes = modes
        return try Replay.run(model: model, data: data, storeFolder: root + folder, options: options)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }
}

@Suite(.serialized) struct ReplayTests {
    let fixture: ReplayFixture
    let result: ReplayResult

    init() throws {
        fixture = try ReplayFixture()
        result = try fixture.replay(candidates: 20, rankEvery: 3, minimumRanked: 0, split: 0.8, into: "/report/store")
        try Report.write(result, to: fixture.root + "/report")
    }

    /// The AUC in report.json equals the AUC re-derived, pair by pair, from report.json's own predictions.
    @Test func reportedAUCIsTheAUCOfTheWrittenPredictions() throws {
        let json =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: fixture.root + "/report/report.json"))) as! [String: Any]
        let events = json["events"] as! [String: Any]
        let labels = (events["label"] as! [Any]).map { ($0 as? NSNumber)?.intValue }
        #expect(labels.count == result.data.replayedEvents)
        let modes = json["modes"] as! [[String: Any]]
        #expect(modes.map { $0["mode"] as! String } == ["bse", "online", "full", "short"])
        for mode in modes {
            let p = (mode["predictions"] as! [NSNumber]).map(\.doubleValue)
            let kept = labels.indices.filter { labels[$0] != nil }
            let want = pairwiseAUC(kept.map { p[$0] }, kept.map { labels[$0] == 1 })
            let got = (mode["auc"] as! NSNumber).doubleValue
            #expect(abs(got - want) < 1e-12, "\(mode["mode"]!): report says \(got), predictions give \(want)")
        }
        // Predictions spread, so the equalities below could fail.
        let bse = result.mode("bse")!.predictions
        #expect(bse.max()! - bse.min()! > 0.3)
    }

    @Test func bseAndOnlineGiveTheSamePredictions() {
        let bse = result.mode("bse")!.predictions, online = result.mode("online")!.predictions
        #expect(bse.count == result.data.replayedEvents)
        #expect(zip(bse, online).allSatisfy { abs($0 - $1) < 1e-5 })
        #expect(
            zip(bse, result.mode("full")!.predictions).contains { abs($0 - $1) > 1e-3 },
            "full should differ from bse somewhere")
    }

    /// Prequential: each replayed prediction equals scoring a store freshly encoded from exactly the events
    /// before it (in replay order), so the replay neither peeks at the event nor misses an earlier one.
    @Test func everyPredictionSeesExactlyTheEarlierEvents() throws {
        let ordered = Dataset.ordered(fixture.data.behaviors)
        let first = ordered.count - result.data.replayedEvents
        let bse = result.mode("bse")!.predictions
        for index in stride(from: 0, to: result.data.replayedEvents, by: 37) {
            let folder = fixture.root + "/fresh-\(index)"
            let store = try Store(path: folder, durability: .noSync)
            _ = try BehaviorEncoder(model: fixture.model, store: store)
                .encode(Dataset(behaviors: Array(ordered[..<(first + index)]), items: fixture.data.items))
            let event = ordered[first + index]
            #expect(result.events.user[index] == event.user && result.events.item[index] == event.item)
            let p = try Scorer(model: fixture.model, store: store).score(user: event.user, candidates: [event.item])[0]
            #expect(abs(p - bse[index]) < 1e-5, "event \(index): replay \(bse[index]), fresh store \(p)")
            #expect(result.events.length[index] == ordered[..<(first + index)].filter { $0.user == event.user }.count)
        }
    }

    @Test func timingsCoverTheRankingRequestsAndEveryAppend() {
        let n = result.data.replayedEvents
        for m in result.modes {
            #expect(m.requests.count == (n + 2) / 3, "\(m.mode): one timed request per ranking event")
            #expect(m.requestsByLength.reduce(0) { $0 + $1.latency.count } == m.requests.count)
            #expect(m.longTerm?.count == m.requests.count)
        }
        #expect(result.appends.count == n)
        #expect(result.storeBytes > 0 && result.peakMemoryBytes > 0)
    }

    /// The plot is well-formed XML with labelled axes, one line per mode plus appends, and one AUC bar per mode.
    @Test func svgHasAxesAndOneLinePerMode() throws {
        let url = URL(fileURLWithPath: fixture.root + "/report/latency.svg")
        final class Collector: NSObject, XMLParserDelegate {
            var polylines = 0, rects = 0, text = ""
            func parser(
                _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]
            ) {
                if name == "polyline" { polylines += 1 }
                if name == "rect" { rects += 1 }
            }
            func parser(_ parser: XMLParser, foundCharacters string: String) { text += string + " " }
        }
        let parser = XMLParser(contentsOf: url)!
        let collector = Collector()
        parser.delegate = collector
        #expect(parser.parse(), "latency.svg is not well-formed: \(String(describing: parser.parserError))")
        #expect(collector.polylines == result.modes.count + 1)
        #expect(collector.rects == 3 + result.modes.count)  // background, two frames, the bars
        for label in ["sequence length L", "p50 latency (ms", "AUC", "bse", "online", "full", "short", "append"] {
            #expect(collector.text.contains(label), "missing '\(label)'")
        }
        let md = try String(contentsOfFile: fixture.root + "/report/report.md", encoding: .utf8)
        #expect(md.contains("**Untrained**"), "an init-model bundle is reported as untrained")
    }

    @Test func refusesAnExistingStoreAndAnEmptyReplay() throws {
        var options = Replay.Options()
        #expect(throws: LifelongError.self) {
            try Replay.run(
                model: fixture.model, data: fixture.data, storeFolder: fixture.root + "/report/store", options: options)
        }
        options.split = .time(.infinity)
        let error = #expect(throws: LifelongError.self) {
            try Replay.run(
                model: fixture.model, data: fixture.data, storeFolder: fixture.root + "/empty", options: options)
        }
        #expect(error?.message.contains("nothing to replay") == true)
    }
}

@Suite struct RankingSampleTests {
    /// Every length bucket gets at least `minimumRankedPerBucket` ranking requests (or all its events).
    @Test func shortHistoriesAreTimedToo() throws {
        let fixture = try ReplayFixture()
        let r = try fixture.replay(
            candidates: 5, rankEvery: 1_000, minimumRanked: 4, split: 0.5, modes: [.bse], into: "/store")
        let eventsPerBucket = Dictionary(grouping: r.events.length, by: LengthBucket.index).mapValues(\.count)
        let timed = Dictionary(
            uniqueKeysWithValues: r.modes[0].requestsByLength.map { ($0.bucket.index, $0.latency.count) })
        #expect(eventsPerBucket.count >= 3)
        for (bucket, events) in eventsPerBucket {
            // Event 0 is ranked by `rankEvery`, the rest by the minimum.
            #expect(timed[bucket, default: 0] >= min(events, 4), "bucket \(LengthBucket(index: bucket).label)")
            #expect(timed[bucket, default: 0] <= 5)
        }
    }
}
