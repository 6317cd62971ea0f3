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

    /// A ratio of two p50 latencies and where they were read.
    public struct Ratio: Codable, Sendable {
        public var name: String
        public var value: Double
        public var goal: String
        public var meaning: String
    }

    /// The scorer's speed goals, read off this replay where its buckets allow (the length bucket nearest
    /// 10^4 and the one nearest 10^2 among those with at least 10 requests):
    /// - P1: bse p50 at the long bucket over bse p50 at the short bucket (goal ≤ 1.10);
    /// - P2: full over bse at the long bucket, for `u_long` alone (goal ≥ 50) and for whole requests;
    /// - P4: bse over short at the long bucket (goal ≤ 1.10);
    /// - append: append p50 at the long bucket over the short bucket (goal ≤ 1.2).
    public func measuredRatios() -> [Ratio] {
        var out: [Ratio] = []
        func p50(_ rows: [BucketLatency]?, _ index: Int) -> Double? {
            rows?.first { $0.bucket.index == index && $0.latency.count >= 10 }?.latency.p50
        }
        func nearest(_ rows: [BucketLatency], to exponent: Double) -> Int? {
            rows.filter { $0.latency.count >= 10 && $0.bucket.exponent != nil }
                .min { abs($0.bucket.exponent! - exponent) < abs($1.bucket.exponent! - exponent) }?.bucket.index
        }
        let base = mode("bse")?.requestsByLength ?? appendsByLength
        guard let longB = nearest(base, to: 4), let shortB = nearest(base, to: 2), longB != shortB else { return out }
        let longLabel = LengthBucket(index: longB).label, shortLabel = LengthBucket(index: shortB).label
        let bse = mode("bse"), full = mode("full"), short = mode("short")
        if let a = p50(bse?.requestsByLength, longB), let b = p50(bse?.requestsByLength, shortB) {
            out.append(Ratio(name: "P1", value: a / b, goal: "≤ 1.10", meaning: "bse request p50 at L \(longLabel) over L \(shortLabel)"))
        }
        if let a = p50(full?.longTermByLength, longB), let b = p50(bse?.longTermByLength, longB) {
            out.append(Ratio(name: "P2", value: a / b, goal: "≥ 50", meaning: "full over bse, u_long alone, at L \(longLabel)"))
        }
        if let a = p50(full?.requestsByLength, longB), let b = p50(bse?.requestsByLength, longB) {
            out.append(Ratio(name: "P2 (request)", value: a / b, goal: "—", meaning: "full over bse, whole request, at L \(longLabel)"))
        }
        if let a = p50(bse?.requestsByLength, longB), let b = p50(short?.requestsByLength, longB) {
            out.append(Ratio(name: "P4", value: a / b, goal: "≤ 1.10", meaning: "bse over short, whole request, at L \(longLabel)"))
        }
        if let a = p50(appendsByLength, longB), let b = p50(appendsByLength, shortB) {
            out.append(Ratio(name: "append", value: a / b, goal: "≤ 1.2", meaning: "append p50 at L \(longLabel) over L \(shortLabel)"))
        }
        return out
    }
}
