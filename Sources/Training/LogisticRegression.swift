import Tensors
import Foundation
import Model
public import Evaluation

/// The id baseline of the trainer's report: logistic regression on one-hot user and item ids,
/// `p = σ(b + w_user + w_item)`, trained on the same train period with Adam and early stopping on the valid
/// AUC. A user or item first seen after the train period keeps weight 0.
package struct LogisticRegression: Sendable {
    package private(set) var weights: [Float]  // [bias, users…, item rows…]
    let users: Int

    package init(_ data: TrainingSet) {
        users = data.users.count
        weights = [Float](repeating: 0, count: 1 + users + data.categoryOfItem.count)
    }

    @inline(__always)
    private func features(_ s: TrainingSet.Sample, _ data: TrainingSet) -> (Int, Int) {
        (1 + Int(s.user), 1 + users + Int(data.candidate(s)))
    }

    package func predict(_ samples: [TrainingSet.Sample], _ data: TrainingSet) -> [Float] {
        samples.map { s in
            let (u, i) = features(s, data)
            return 1 / (1 + expf(-(weights[0] + weights[u] + weights[i])))
        }
    }

    /// Trains and returns the valid/test figures of the best epoch.
    package mutating func fit(
        _ data: TrainingSet, epochs: Int = 30, batch: Int = 256, learningRate: Float = 0.01,
        patience: Int = 2, seed: UInt64 = 1
    ) -> (valid: Metrics.Summary, test: Metrics.Summary) {
        var adam = Adam<Float>(count: weights.count, learningRate: learningRate)
        var gradients = [Float](repeating: 0, count: weights.count)
        var rng = Gaussian(seed: seed)
        var best = (auc: -Double.infinity, epoch: 0, weights: weights)
        for epoch in 1...epochs {
            var order = data.train
            rng.shuffle(&order)
            for first in stride(from: 0, to: order.count, by: batch) {
                let part = order[first..<min(first + batch, order.count)]
                var touched = Set<Int>()
                for s in part {
                    let (u, i) = features(s, data)
                    let p = 1 / (1 + expf(-(weights[0] + weights[u] + weights[i])))
                    let g = (p - (s.label ? 1 : 0)) / Float(part.count)
                    gradients[0] += g
                    gradients[u] += g
                    gradients[i] += g
                    touched.insert(u)
                    touched.insert(i)
                }
                let rows = touched.sorted().map { (offset: $0, width: 1) }
                weights.withUnsafeMutableBufferPointer { w in
                    gradients.withUnsafeMutableBufferPointer {
                        adam.update(w.baseAddress!, $0.baseAddress!, dense: [0..<1], rows: rows)
                    }
                }
            }
            let auc = Metrics.Summary(predict(data.valid, data), data.valid).auc ?? 0
            if auc > best.auc { best = (auc, epoch, weights) }
            if epoch - best.epoch >= patience { break }
        }
        weights = best.weights
        return (
            Metrics.Summary(predict(data.valid, data), data.valid), Metrics.Summary(predict(data.test, data), data.test)
        )
    }
}
