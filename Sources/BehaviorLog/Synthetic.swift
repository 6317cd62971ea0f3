public import Errors
import Foundation
import Tensors

/// A seeded generator of long-sequence behavior logs with a hidden ground truth in which old behaviors matter.
///
/// The world:
/// - `items` items in `clusters` clusters (item `i` is in cluster `i mod clusters`); cluster `k` has category
///   `c(k mod categories)`. Each item has a hidden quality `q ~ N(0, qualitySpread²)`.
/// - Each user has a length `L` drawn log-uniformly from `length` and behaviors spread uniformly over the same
///   `spanDays`, so that a split by time cuts every user at about the same fraction of their history.
/// - Each user has `coreInterests` **core** clusters, fixed for life and rarely browsed (`coreRate` of the
///   behaviors), and `currentInterests` **current** clusters that drift: each behavior replaces one of them
///   with a random cluster with probability `drifts / L` (about `drifts` changes over the whole sequence).
///   A behavior is from a core cluster with probability `coreRate`, from a current one with `currentRate`,
///   otherwise a uniformly random item.
/// - Ground truth: `P(click) = σ(bias + q + affinityWeight·√a)`, where `a` is the share of the user's whole
///   earlier history that lies in the item's cluster. Interests the user browsed long ago keep driving clicks
///   after they drifted out of the last-K window, so long-term modelling can beat the truncated baseline.
public struct SyntheticLog: Sendable {
    public struct Parameters: Sendable, Codable, Equatable {
        public var users = 200
        public var items = 20_000
        public var clusters = 100
        public var categories = 20
        public var length: ClosedRange<Int> = 100...10_000
        public var coreInterests = 2
        public var currentInterests = 3
        public var coreRate = 0.05
        public var currentRate = 0.6
        public var drifts = 4.0
        public var bias = -2.0
        public var qualitySpread = 0.5
        public var affinityWeight = 5.0
        public var spanDays = 365.0
        public var start = 1_600_000_000.0
        public var seed: UInt64 = 1

        public init() {}

        /// A parameter out of range: `invalidArgument`.
        /// Checks the parameters, naming the first one out of range.
        public func validate() throws {
            func fail(_ m: String) -> LifelongError { LifelongError(.invalidArgument, message: m) }
            guard users >= 1 else { throw fail("users must be ≥ 1") }
            guard items >= clusters, clusters >= max(1, coreInterests + currentInterests) else {
                throw fail("need items ≥ clusters ≥ core + current interests (\(coreInterests + currentInterests))")
            }
            guard categories >= 1 else { throw fail("categories must be ≥ 1") }
            guard length.lowerBound >= 1, length.upperBound <= 1_000_000 else {
                throw fail("length must be within 1…1,000,000")
            }
            guard coreRate >= 0, currentRate >= 0, coreRate + currentRate <= 1 else {
                throw fail("core and current rates must be ≥ 0 and sum to ≤ 1")
            }
            guard spanDays > 0, drifts >= 0 else { throw fail("span and drifts must be positive") }
        }
    }

    public let parameters: Parameters
    public init(_ parameters: Parameters) { self.parameters = parameters }

    /// The whole log in memory: behaviors grouped by user, each user's in time order; labels are clicks.
    public func generate() -> Dataset {
        let p = parameters
        var rng = Gaussian(seed: p.seed)
        let quality = (0..<p.items).map { _ in Double(rng.normal()) * p.qualitySpread }
        var items: [String: ItemInfo] = [:]
        items.reserveCapacity(p.items)
        for i in 0..<p.items {
            let k = i % p.clusters
            items["\(i + 1)"] = ItemInfo(
                category: "c\(k % p.categories)", text: "Synthetic item \(i + 1) of cluster \(k)")
        }
        // Items i ≡ k (mod clusters).
        let perCluster = (0..<p.clusters).map { k in (p.items - k + p.clusters - 1) / p.clusters }
        func item(in cluster: Int) -> Int {
            cluster + p.clusters * Int.random(in: 0..<perCluster[cluster], using: &rng)
        }
        func distinctClusters(_ n: Int) -> [Int] {
            var chosen: [Int] = []
            while chosen.count < n {
                let k = Int.random(in: 0..<p.clusters, using: &rng)
                if !chosen.contains(k) { chosen.append(k) }
            }
            return chosen
        }
        let span = p.spanDays * 86_400
        let logLo = log(Double(p.length.lowerBound)), logHi = log(Double(p.length.upperBound))
        var behaviors: [Behavior] = []
        for u in 0..<p.users {
            let length = min(
                p.length.upperBound,
                max(
                    p.length.lowerBound,
                    Int(exp(logLo + (logHi - logLo) * Double(rng.uniform())).rounded())))
            let interests = distinctClusters(p.coreInterests + p.currentInterests)
            let core = Array(interests.prefix(p.coreInterests))
            var current = Array(interests.dropFirst(p.coreInterests))
            var times = (0..<length).map { _ in (p.start + span * Double(rng.uniform())).rounded(.down) }
            times.sort()
            let user = "\(u + 1)"
            let driftRate = p.drifts / Double(length)
            var clusterCounts = [Int](repeating: 0, count: p.clusters)
            for (n, t) in times.enumerated() {
                if !current.isEmpty, Double(rng.uniform()) < driftRate {
                    current[Int.random(in: 0..<current.count, using: &rng)] = Int.random(
                        in: 0..<p.clusters, using: &rng)
                }
                let r = Double(rng.uniform())
                let i: Int
                if r < p.coreRate, !core.isEmpty {
                    i = item(in: core.randomElement(using: &rng)!)
                } else if r < p.coreRate + p.currentRate, !current.isEmpty {
                    i = item(in: current.randomElement(using: &rng)!)
                } else {
                    i = Int.random(in: 0..<p.items, using: &rng)
                }
                let k = i % p.clusters
                let share = n == 0 ? 0 : Double(clusterCounts[k]) / Double(n)
                let z = p.bias + quality[i] + p.affinityWeight * share.squareRoot()
                clusterCounts[k] += 1
                let click = Double(rng.uniform()) < 1 / (1 + exp(-z))
                behaviors.append(Behavior(user: user, item: "\(i + 1)", timestamp: t, label: click))
            }
        }
        return Dataset(behaviors: behaviors, items: items)
    }

    /// Writes `data` as a RecBole dataset folder `folder/NAME.inter` + `folder/NAME.item` (NAME = the folder's
    /// name), through a temporary file per output so a failed run leaves no half-written file.
    public static func writeRecBole(_ data: Dataset, to folder: String) throws {
        let name = (folder as NSString).lastPathComponent
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var inter = "user_id:token\titem_id:token\ttimestamp:float\tlabel:float\n"
        inter.reserveCapacity(data.behaviors.count * 24)
        for b in data.behaviors {
            inter += "\(b.user)\t\(b.item)\t\(Behavior.text(ofTimestamp: b.timestamp))\t\(b.label == true ? 1 : 0)\n"
        }
        var item = "item_id:token\tclass:token\ttitle:token_seq\n"
        for (id, info) in data.items.sorted(by: { Int($0.key) ?? 0 < Int($1.key) ?? 0 }) {
            item += "\(id)\t\(info.category ?? "")\t\(info.text ?? "")\n"
        }
        let base = (folder as NSString).appendingPathComponent(name)
        try Data(inter.utf8).write(to: URL(fileURLWithPath: base + ".inter"), options: .atomic)
        try Data(item.utf8).write(to: URL(fileURLWithPath: base + ".item"), options: .atomic)
    }
}
