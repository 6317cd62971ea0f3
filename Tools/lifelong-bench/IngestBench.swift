import ArgumentParser
import BehaviorLog
import Foundation
import LMDB
import Model
import Offline
import Scorer
import Store
import Tensors

/// Events/s through the batch append (what `lifelong ingest` commits) against one append per event and against
/// the physical floor (raw read-modify-writes of the records the layout touches), in one run; then the
/// freshness of a followed `lifelong ingest` and scoring latency beside a paced writer (`IngestLoad`).
struct IngestBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract:
            "Ingest events/s (batch append, sync and nosync, sustained) over one append per event and over raw "
            + "LMDB rewrites of what the layout touches, users in random order, per d; freshness of a followed "
            + "`lifelong ingest`; scoring p99 beside a paced writer.")

    @Option(help: "Users already stored.") var users = 100_000
    @Option(help: "Behaviors each user has stored.") var length = 1000
    @Option(help: "Item vector widths d (comma-separated).") var dims = "48,128"
    @Option(help: "Seconds each batch run is sustained.") var seconds = 60.0
    @Option(help: "Events per batch (one write transaction).") var batch = 1000
    @Option(help: "Events appended one at a time, for the per-event figure.") var single = 2000
    @Option(help: "Items in the vocabulary.") var items = 20_000
    @OptionGroup var load: IngestLoad
    @OptionGroup var work: WorkFolder

    func validate() throws {
        try requireReleaseBuild()
        guard users > 0, length > 0, seconds > 0, batch > 0, single > 0, items > 0, !parsedDims.isEmpty else {
            throw ValidationError("--users, --length, --seconds, --batch, --single, --items must be positive")
        }
        try load.validate()
    }

    var parsedDims: [Int] { dims.split(separator: ",").compactMap { Int($0) }.filter { $0 >= 4 } }

    func run() throws {
        printMachineHeader()
        BLAS.useOneThread()
        let root = work.run("ingest")
        defer { try? FileManager.default.removeItem(atPath: root) }
        print(
            "Ingest — \(users) users × \(length) stored behaviors, events in random user order, batches of \(batch) "
                + "sustained \(fmt(seconds, 0)) s, one writer thread, 1 BLAS thread")
        var json: [String: Double] = [:]
        for d in parsedDims {
            let (model, itemIds, _) = try syntheticBundle(at: root + "/model-\(d)", d: d, items: items, seed: 5)
            let base = root + "/base-\(d)"
            let encodeSeconds = try time { try encodeBase(model, itemIds, into: base) }
            let baseBytes = fileSize(base + "/data.mdb")
            print(
                "d = \(d): base store \(fmt(Double(baseBytes) / Double(1 << 30), 2)) GiB, encoded in "
                    + "\(fmt(encodeSeconds, 0)) s")
            let stream = Stream(users: users, length: length, itemIds: itemIds)
            var rates: [String: Double] = [:]
            var sustained = 0
            print("| d | path | durability | events | events/s | data.mdb growth | batch p50 ms | p99 | max |")
            print("|---:|---|---|---:|---:|---:|---:|---:|---:|")
            for (name, durability) in [("nosync", Environment.Durability.noSync), ("full", .full)] {
                let r = try batchRun(model, stream, copyOf: base, root + "/b-\(d)", durability)
                rates["batch-\(name)"] = r.rate
                if name == "nosync" { sustained = r.events }
                print(
                    tableRow(
                        "\(d)", "batch", name, "\(r.events)", fmt(r.rate, 0), bytes(r.growth), ms(r.batches, 0.5),
                        ms(r.batches, 0.99), ms(r.batches, 1)))
                let s = try singleRate(model, stream, copyOf: base, root + "/s-\(d)", durability)
                rates["single-\(name)"] = s
                print(tableRow("\(d)", "one by one", name, "\(single)", fmt(s, 0), "", "", "", ""))
            }
            rates["floor-nosync"] = try floorRate(stream, events: sustained, copyOf: base, root + "/f-\(d)")
            print(tableRow("\(d)", "floor", "nosync", "\(sustained)", fmt(rates["floor-nosync"]!, 0), "", "", "", ""))
            for (key, value) in rates {
                json["d\(d)_\(key.replacingOccurrences(of: "-", with: "_"))_events_per_s"] = value
            }
            let overFloor = rates["floor-nosync"]! / rates["batch-nosync"]!
            json["d\(d)_ingest_over_floor"] = overFloor
            let overSingle = (
                rates["batch-nosync"]! / rates["single-nosync"]!, rates["batch-full"]! / rates["single-full"]!
            )
            print(
                "d = \(d): batch over one-by-one \(fmt(overSingle.0, 1))× (nosync), "
                    + "\(fmt(overSingle.1, 1))× (fsync); ingest time over the floor's "
                    + "\(fmt(overFloor, 2)) (goal ≤ 2); goals at d = 48: ≥ 100000/s nosync, ≥ 50000/s fsync")
            if d == parsedDims.first {
                let figures = try load.measure(model, itemIds, copyOf: base, root + "/load-\(d)", stream: stream)
                json.merge(figures.mapKeys { "d\(d)_\($0)" }) { a, _ in a }
            }
            try? FileManager.default.removeItem(atPath: base)
        }
        print(String(decoding: try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]), as: UTF8.self))
    }

    /// `users` users "u0"… with `length` behaviors each (items uniform, timestamps 0 ..< length), encoded into a
    /// fresh store at `folder` in groups of users, so the log in memory stays small.
    func encodeBase(_ model: ModelBundle, _ itemIds: [String], into folder: String) throws {
        let store = try Store(path: folder, durability: .noSync)
        let encoder = try BehaviorEncoder(model: model, store: store)
        var rng = Gaussian(seed: 9)
        let group = max(1, 2_000_000 / length)
        for first in stride(from: 0, to: users, by: group) {
            var log: [Behavior] = []
            log.reserveCapacity(group * length)
            for u in first..<min(first + group, users) {
                for t in 0..<length {
                    let item = itemIds[Int(rng.bits() % UInt64(itemIds.count))]
                    log.append(Behavior(user: "u\(u)", item: item, timestamp: Double(t), label: rng.bits() % 2 == 0))
                }
            }
            _ = try encoder.encode(Dataset(behaviors: log, items: [:]))
        }
        try store.environment.sync()
    }

    /// A writable scorer over a copy of the store at `base` (the copy is removed by `cleanUp`).
    func writableCopy(
        _ model: ModelBundle, of base: String, at folder: String, _ durability: Environment.Durability
    ) throws -> Scorer {
        try copyStore(base, to: folder)
        return try Scorer(model: model, store: try Store(path: folder, durability: durability), writable: true)
    }

    /// Batches of the stream, appended for `seconds` of append time (the batches are made outside the clock).
    func batchRun(
        _ model: ModelBundle, _ stream: Stream, copyOf base: String, _ folder: String,
        _ durability: Environment.Durability
    ) throws -> (events: Int, rate: Double, growth: Int, batches: [Double]) {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let scorer = try writableCopy(model, of: base, at: folder, durability)
        let before = fileSize(folder + "/data.mdb")
        var spent = 0.0, n = 0, batches: [Double] = []
        while spent < seconds {
            let events = stream.events(n..<(n + batch))
            batches.append(
                try time {
                    let status = try scorer.append(events: events)
                    precondition(status.allSatisfy { $0 == .appended })
                })
            spent += batches.last!
            n += batch
        }
        return (n, Double(n) / spent, fileSize(folder + "/data.mdb") - before, batches.sorted())
    }

    func singleRate(
        _ model: ModelBundle, _ stream: Stream, copyOf base: String, _ folder: String,
        _ durability: Environment.Durability
    ) throws -> Double {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let scorer = try writableCopy(model, of: base, at: folder, durability)
        let events = stream.events(0..<single)
        let seconds = try time {
            for e in events { try scorer.append(user: e.user, item: e.item, timestamp: e.timestamp, label: e.label) }
        }
        return Double(single) / seconds
    }

    /// The physical reference for the first `events` events: per batch, one write transaction that grows each
    /// touched user's last sequence chunk by its new entries and rewrites the user's record whenever its pending
    /// tail reaches `Store.foldEvery` — the bytes the layout writes — with no model math, nosync.
    func floorRate(_ stream: Stream, events: Int, copyOf base: String, _ folder: String) throws -> Double {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try copyStore(base, to: folder)
        let store = try Store(path: folder, durability: .noSync)
        var appended = [Int](repeating: 0, count: users), pending = [Int](repeating: 0, count: users)
        var spent = 0.0
        for first in stride(from: 0, to: events, by: batch) {
            var touched: [Int: Int] = [:]
            for e in stream.events(first..<min(first + batch, events)) {
                touched[Int(e.user.dropFirst())!, default: 0] += 1
            }
            spent += try time {
                try store.environment.write { txn in
                    for (u, k) in touched {
                        let user = "u\(u)"
                        var position = length + appended[u], left = k
                        while left > 0 {
                            let key = Store.chunkKey(user: user, chunk: UInt32(position / Store.chunkCapacity))
                            let old = try txn.get(store.sequences, key) ?? []
                            let take = min(Store.chunkCapacity - position % Store.chunkCapacity, left)
                            try txn.put(store.sequences, key, old + [UInt8](repeating: 0, count: take * 13))
                            position += take
                            left -= take
                        }
                        if pending[u] + k >= Store.foldEvery, let record = try txn.get(store.users, user) {
                            try txn.put(store.users, user, record)
                        }
                        pending[u] = (pending[u] + k) % Store.foldEvery
                        appended[u] += k
                    }
                }
            }
        }
        return Double(events) / spent
    }
}

/// The benchmark's event stream: event k is a random user's behavior of a random item at time `length + k`
/// (later than everything stored), the same for every path of a run.
struct Stream {
    let users: Int, length: Int, itemIds: [String]

    func events(_ range: Range<Int>) -> [Scorer.Event] {
        range.map { k in
            var x = UInt64(k) &+ 0x9E37_79B9_7F4A_7C15  // splitmix64 of k
            x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
            x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
            x ^= x >> 31
            return .init(
                user: "u\(Int(x % UInt64(users)))", item: itemIds[Int((x >> 20) % UInt64(itemIds.count))],
                timestamp: Double(length + k), label: x & 1 == 0)
        }
    }
}

/// A copy of the store at `base`, flushed to disk, so the copy's dirty pages do not throttle what is measured.
func copyStore(_ base: String, to folder: String) throws {
    try? FileManager.default.removeItem(atPath: folder)
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: base + "/data.mdb", toPath: folder + "/data.mdb")
    let copy = try FileHandle(forUpdating: URL(fileURLWithPath: folder + "/data.mdb"))
    try copy.synchronize()
    try copy.close()
}

func fileSize(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
}

/// The `p` quantile of sorted seconds, in ms.
func ms(_ sorted: [Double], _ p: Double) -> String { sorted.isEmpty ? "" : fmt(percentile(sorted, p) * 1e3, 1) }

func bytes(_ n: Int) -> String { n >= 1 << 20 ? "\(fmt(Double(n) / Double(1 << 20), 1)) MiB" : "\(n / 1024) KiB" }

extension Dictionary {
    func mapKeys<K: Hashable>(_ f: (Key) -> K) -> [K: Value] {
        [K: Value](uniqueKeysWithValues: map { (f($0.key), $0.value) })
    }
}
