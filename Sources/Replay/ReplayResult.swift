import Foundation
import Histogram

/// Every figure of one replay; `report.json` is this value, encoded.
public struct ReplayResult: Codable, Sendable {
    public struct ModelInfo: Codable, Sendable {
        public var folder: String
        public var fingerprint: String
        /// The bundle's `created_by` metadata ("lifelong init-model" for an untrained, random bundle).
        public var createdBy: String?
        public var d: Int, signatures: Int, buckets: Int, window: Int
        public var trained: Bool { !(createdBy ?? "").contains("init-model") }
    }

    public struct DataInfo: Codable, Sendable {
        public var behaviors: Int, users: Int, items: Int
        /// History is every event strictly before this timestamp (nil: the store started empty).
        public var splitTime: Double?
        public var historyBehaviors: Int, replayedEvents: Int, labelledEvents: Int
        public var encodeSeconds: Double
    }

    /// Latency percentiles in microseconds.
    public struct Latency: Codable, Sendable {
        public var count: Int
        public var mean: Double, p50: Double, p90: Double, p99: Double, max: Double

        init(_ h: Histogram<UInt64>) {
            count = Int(h.totalCount)
            let us = { (ns: UInt64) in Double(ns) / 1000 }
            mean = h.totalCount > 0 ? h.mean / 1000 : 0
            p50 = us(h.valueAtPercentile(50)); p90 = us(h.valueAtPercentile(90)); p99 = us(h.valueAtPercentile(99))
            max = us(h.max)
        }
    }

    public struct BucketLatency: Codable, Sendable {
        public var bucket: LengthBucket
        public var latency: Latency
    }

    public struct ModeResult: Codable, Sendable {
        public var mode: String
        public var auc: Double?
        public var logloss: Double?
        /// Whole requests (the ranking requests when `candidates > 1`), overall and per sequence length.
        public var requests: Latency
        public var requestsByLength: [BucketLatency]
        /// The long-term term `u_long` alone, timed on the ranking requests (nil when `candidates = 1`).
        public var longTerm: Latency?
        public var longTermByLength: [BucketLatency]?
        /// One thread, back to back: 1 / mean request latency.
        public var requestsPerSecond: Double?
        /// The prediction for every replayed event's own item, in replay order.
        public var predictions: [Float]
    }

    /// The replayed events, column by column, in replay order (`length` = the user's L before the event).
    public struct Events: Codable, Sendable {
        public var user: [String], item: [String], timestamp: [Double], label: [Int?], length: [Int]
    }

    public var model: ModelInfo
    public var data: DataInfo
    public var candidates: Int
    public var rankEvery: Int
    public var minimumRankedPerBucket: Int
    public var durability: String
    public var precision: String
    public var modes: [ModeResult]
    public var appends: Latency
    public var appendsByLength: [BucketLatency]
    public var storeBytes: Int
    public var peakMemoryBytes: Int
    public var seconds: Double
    public var events: Events
    /// How the report was made: the command line, the build configuration, the machine, the date.
    public var provenance: [String: String] = [:]
    /// The speed ratios (see `measuredRatios()`), stored so `report.json` carries them.
    public var ratios: [Ratio] = []

    public func mode(_ name: String) -> ModeResult? { modes.first { $0.mode == name } }

    // MARK: Ratios

    /// A ratio of two p50 latencies and where they were read. `goal` is the scorer's target for it, or "—"
    /// when the replay's longest bucket is short of L ≈ 10^4, where the targets are set: there the ratio is a
    /// plain figure.
    public struct Ratio: Codable, Sendable {
        public var name: String
        public var value: Double
        public var goal: String
        public var meaning: String
    }

    /// The length exponent (L ≈ 10^3.5 and beyond) from which a ratio is held to its target.
    public static let goalExponent = 3.5

    /// The scorer's speed goals, read off this replay. Each ratio compares p50 latencies in the length
    /// buckets nearest 10^4 and 10^2 among those where both of its series have at least 10 samples:
    /// - bse flat in L: bse at the long bucket over bse at the short bucket (goal ≤ 1.10);
    /// - full over bse at the long bucket, for `u_long` alone (goal ≥ 50) and for whole requests;
    /// - bse over short at the long bucket: the long history nearly free (goal ≤ 1.10);
    /// - append: append at the long bucket over the short bucket (goal ≤ 1.2).
    /// The goals stand only where the long bucket reaches `goalExponent`.
    public func measuredRatios() -> [Ratio] {
        var out: [Ratio] = []
        func p50(_ rows: [BucketLatency], _ index: Int) -> Double? {
            rows.first { $0.bucket.index == index && $0.latency.count >= 10 }?.latency.p50
        }
        /// The bucket nearest 10^exponent where both series have enough samples.
        func nearest(_ a: [BucketLatency], _ b: [BucketLatency], to exponent: Double) -> Int? {
            a.filter { $0.bucket.exponent != nil && p50(a, $0.bucket.index) != nil && p50(b, $0.bucket.index) != nil }
                .min { abs($0.bucket.exponent! - exponent) < abs($1.bucket.exponent! - exponent) }?.bucket.index
        }
        func goalAt(_ bucket: Int, _ goal: String) -> String {
            (LengthBucket(index: bucket).exponent ?? 0) >= Self.goalExponent ? goal : "—"
        }
        /// `a` over `b` at the same (long) bucket, or `a` at the long bucket over `a` at the short one.
        func ratio(_ name: String, _ goal: String, _ a: [BucketLatency]?, over b: [BucketLatency]?, what: String) {
            guard let a else { return }
            if let b {
                guard let i = nearest(a, b, to: 4), let x = p50(a, i), let y = p50(b, i) else { return }
                out.append(
                    Ratio(
                        name: name, value: x / y, goal: goalAt(i, goal),
                        meaning: "\(what) at L \(LengthBucket(index: i).label)"))
            } else {
                guard let i = nearest(a, a, to: 4), let j = nearest(a, a, to: 2), i != j, let x = p50(a, i),
                    let y = p50(a, j)
                else { return }
                out.append(
                    Ratio(
                        name: name, value: x / y, goal: goalAt(i, goal),
                        meaning: "\(what) at L \(LengthBucket(index: i).label) over L \(LengthBucket(index: j).label)"))
            }
        }
        let bse = mode("bse"), full = mode("full"), short = mode("short")
        ratio("bse flat in L", "≤ 1.10", bse?.requestsByLength, over: nil, what: "bse request p50")
        ratio(
            "full over bse, u_long", "≥ 50", full?.longTermByLength, over: bse?.longTermByLength ?? [],
            what: "full over bse, u_long alone,")
        ratio(
            "full over bse, request", "—", full?.requestsByLength, over: bse?.requestsByLength ?? [],
            what: "full over bse, whole request,")
        ratio(
            "bse over short", "≤ 1.10", bse?.requestsByLength, over: short?.requestsByLength ?? [],
            what: "bse over short, whole request,")
        ratio("append flat in L", "≤ 1.2", appendsByLength, over: nil, what: "append p50")
        return out
    }
}
