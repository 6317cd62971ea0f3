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
/// the physical floor (raw read-modify-write of the touched user records), in one run.
struct IngestBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract:
            "Ingest events/s: batch append (full and nosync durability) over one append per event and over raw "
            + "LMDB rewrites of the touched records, users in random order, per d.")

    @Option(help: "Users already stored.") var users = 10_000
    @Option(help: "Behaviors each user has stored.") var length = 100
    @Option(help: "Item vector widths d (comma-separated).") var dims = "48,128"
    @Option(help: "Events in the stream (random users, random items).") var events = 100_000
    @Option(help: "Events per batch (one write transaction).") var batch = 1000
    @Option(help: "Events appended one at a time, for the per-event figure.") var single = 2000
    @Option(help: "Items in the vocabulary.") var items = 20_000
    @OptionGroup var work: WorkFolder

    func validate() throws {
        try requireReleaseBuild()
        guard users > 0, length > 0, events > 0, batch > 0, single > 0, items > 0, !parsedDims.isEmpty else {
            throw ValidationError("--users, --length, --events, --batch, --single, --items must be positive")
        }
    }

    var parsedDims: [Int] { dims.split(separator: ",").compactMap { Int($0) }.filter { $0 >= 4 } }

    func run() throws {
        printMachineHeader()
        BLAS.useOneThread()
        let root = work.run("ingest")
        defer { try? FileManager.default.removeItem(atPath: root) }
        print(
            "Ingest — \(users) users × \(length) stored behaviors, \(events) events in random user order, batches "
                + "of \(batch), one writer thread, 1 BLAS thread")
        print("| d | path | durability | events/s |")
        print("|---:|---|---|---:|")
        var json: [String: Double] = [:]
        for d in parsedDims {
            let (model, itemIds, _) = try syntheticBundle(at: root + "/model-\(d)", d: d, items: items, seed: 5)
            let base = root + "/base-\(d)"
            try encodeBase(model, itemIds, into: base)
            let stream = makeStream(itemIds)
            var rates: [String: Double] = [:]
            for (name, durability) in [("nosync", Environment.Durability.noSync), ("full", .full)] {
                rates["batch-\(name)"] = try batchRate(
                    model, stream, copyOf: base, root + "/b-\(d)-\(name)", durability)
                rates["single-\(name)"] = try singleRate(
                    model, stream, copyOf: base, root + "/s-\(d)-\(name)", durability)
            }
            rates["floor-nosync"] = try floorRate(stream, copyOf: base, root + "/f-\(d)")
            for key in ["batch-nosync", "batch-full", "single-nosync", "single-full", "floor-nosync"] {
                let parts = key.split(separator: "-")
                print(tableRow("\(d)", String(parts[0]), String(parts[1]), fmt(rates[key]!, 0)))
                json["d\(d)_\(parts[0])_\(parts[1])_events_per_s"] = rates[key]!
            }
            let speedup = rates["batch-nosync"]! / rates["single-nosync"]!
            let overFloor = rates["floor-nosync"]! / rates["batch-nosync"]!
            json["d\(d)_batch_over_single_nosync"] = speedup
            json["d\(d)_floor_over_batch_nosync"] = overFloor
            print(
                "d = \(d): batch over one-by-one (nosync) \(fmt(speedup, 1))×, ingest time over the floor's "
                    + "\(fmt(overFloor, 2))")
        }
        print(String(decoding: try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]), as: UTF8.self))
    }

    /// `users` users "u0"… with `length` behaviors each, encoded into a fresh store at `folder`.
    func encodeBase(_ model: ModelBundle, _ itemIds: [String], into folder: String) throws {
        let log = uniformLog(users: users, length: length, itemIds: itemIds, seed: 9)
        let store = try Store(path: folder, durability: .noSync)
        _ = try BehaviorEncoder(model: model, store: store).encode(Dataset(behaviors: log, items: [:]))
        try store.environment.sync()
    }

    func makeStream(_ itemIds: [String]) -> [Scorer.Event] {
        var rng = Gaussian(seed: 11)
        return (0..<events).map { k in
            .init(
                user: "u\(rng.bits() % UInt64(users))", item: itemIds[Int(rng.bits() % UInt64(items))],
                timestamp: Double(length + k), label: rng.bits() % 2 == 0)
        }
    }

    func copy(_ base: String, to folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: base + "/data.mdb", toPath: folder + "/data.mdb")
    }

    /// A writable scorer over a copy of the store at `base`.
    func writableCopy(
        _ model: ModelBundle, of base: String, at folder: String, _ durability: Environment.Durability
    ) throws -> Scorer {
        try copy(base, to: folder)
        return try Scorer(model: model, store: try Store(path: folder, durability: durability), writable: true)
    }

    func batchRate(
        _ model: ModelBundle, _ stream: [Scorer.Event], copyOf base: String, _ folder: String,
        _ durability: Environment.Durability
    ) throws -> Double {
        let scorer = try writableCopy(model, of: base, at: folder, durability)
        let seconds = try time {
            for first in stride(from: 0, to: stream.count, by: batch) {
                let status = try scorer.append(events: Array(stream[first..<min(first + batch, stream.count)]))
                precondition(status.allSatisfy { $0 == .appended })
            }
        }
        return Double(stream.count) / seconds
    }

    func singleRate(
        _ model: ModelBundle, _ stream: [Scorer.Event], copyOf base: String, _ folder: String,
        _ durability: Environment.Durability
    ) throws -> Double {
        let scorer = try writableCopy(model, of: base, at: folder, durability)
        let n = min(single, stream.count)
        let seconds = try time {
            for e in stream.prefix(n) {
                try scorer.append(user: e.user, item: e.item, timestamp: e.timestamp, label: e.label)
            }
        }
        return Double(n) / seconds
    }

    /// The physical reference: per batch, one write transaction that reads each touched user's record and
    /// sequence tail and writes the same bytes back (no model math), nosync.
    func floorRate(_ stream: [Scorer.Event], copyOf base: String, _ folder: String) throws -> Double {
        try copy(base, to: folder)
        let store = try Store(path: folder, durability: .noSync)
        let seconds = try time {
            for first in stride(from: 0, to: stream.count, by: batch) {
                var touched = Set<String>()
                for e in stream[first..<min(first + batch, stream.count)] { touched.insert(e.user) }
                try store.environment.write { txn in
                    for user in touched {
                        if let record = try txn.get(store.users, user) { try txn.put(store.users, user, record) }
                        let key = Store.chunkKey(user: user, chunk: UInt32(length / Store.chunkCapacity))
                        if let chunk = try txn.get(store.sequences, key) { try txn.put(store.sequences, key, chunk) }
                    }
                }
            }
        }
        return Double(stream.count) / seconds
    }
}
