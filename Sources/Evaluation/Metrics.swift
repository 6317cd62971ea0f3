import Foundation

/// Ranking and calibration metrics over (prediction, label) pairs.
public enum Metrics {
    /// ROC AUC: the probability that a random positive is scored above a random negative, ties counting
    /// one half (the Mann–Whitney U statistic over average ranks). `nil` without both classes.
    public static func auc(_ predictions: [Float], _ labels: [Bool]) -> Double? {
        precondition(predictions.count == labels.count, "predictions and labels differ in length")
        let order = predictions.indices.sorted { predictions[$0] < predictions[$1] }
        var rankSumPositive = 0.0, positives = 0.0
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count, predictions[order[j + 1]] == predictions[order[i]] { j += 1 }
            let averageRank = Double(i + j) / 2 + 1  // ranks are 1-based
            for k in i...j where labels[order[k]] {
                rankSumPositive += averageRank
                positives += 1
            }
            i = j + 1
        }
        let negatives = Double(labels.count) - positives
        guard positives > 0, negatives > 0 else { return nil }
        return (rankSumPositive - positives * (positives + 1) / 2) / (positives * negatives)
    }

    /// Mean binary cross-entropy (natural log), predictions clamped to [1e-7, 1 − 1e-7]. `nil` when empty.
    public static func logloss(_ predictions: [Float], _ labels: [Bool]) -> Double? {
        precondition(predictions.count == labels.count, "predictions and labels differ in length")
        guard !predictions.isEmpty else { return nil }
        var sum = 0.0
        for (p, y) in zip(predictions, labels) {
            let q = min(max(Double(p), 1e-7), 1 - 1e-7)
            sum -= y ? log(q) : log(1 - q)
        }
        return sum / Double(predictions.count)
    }

    /// AUC and logloss of one period (a training split, a replay mode).
    public struct Summary: Codable, Sendable, Equatable {
        public var samples: Int
        public var auc: Double?
        public var logloss: Double?

        /// The figures of `predictions` against `labels`.
        public init(_ predictions: [Float], labels: [Bool]) {
            samples = labels.count
            auc = Metrics.auc(predictions, labels)
            logloss = Metrics.logloss(predictions, labels)
        }
    }
}
