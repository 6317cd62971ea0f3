import Tensors
import BehaviorLog
import ArgumentParser
import CLMDB
import Offline
import Foundation
import LMDB
import Model
import Store

/// The BSE encoder's throughput next to its floor, measured in the same run on the same synthetic data:
/// floor = max(the same SimHash projections as one OpenBLAS sgemm over every behavior vector,
///             writing the same bytes under the same keys with raw LMDB C calls).
struct EncodeBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode",
        abstract: "BSE encoder behaviors/s vs its floor (one sgemm of the hashing, raw LMDB writes of the same bytes)."
    )

    @Option(help: "Sequence lengths L to measure (comma-separated).") var lengths = "1000,3000,10000"
    @Option(help: "Behaviors per length (users = behaviors / L).") var behaviors = 200_000
    @Option(help: "Item vector width d = d_item + d_cat.") var d = 128
    @Option(help: "Distinct items in the synthetic catalog.") var items = 20_000
    @Option(help: "Repetitions per length; the median is reported.") var repeats = 3
    @Option(help: "Behaviors of the text-log rows (users of L = the first of --lengths); 0 skips them.")
    var textBehaviors = 1_000_000
    @Option(help: "Another build's `lifelong` binary, timed on the same text logs in the same run.")
    var baselineCLI: String?
    @OptionGroup var work: WorkFolder

    func validate() throws {
        try requireReleaseBuild()
        guard d >= 2, behaviors > 0, items > 0, repeats > 0, textBehaviors >= 0 else {
            throw ValidationError("--d ≥ 2; --behaviors, --items, --repeats > 0; --text-behaviors ≥ 0")
        }
        guard !parsedLengths.isEmpty, parsedLengths.allSatisfy({ $0 > 0 && $0 <= behaviors }) else {
            throw ValidationError("--lengths: positive integers no larger than --behaviors")
        }
    }

    var parsedLengths: [Int] { lengths.split(separator: ",").compactMap { Int($0) } }

    func run() throws {
        printMachineHeader()
        BLAS.useOneThread()  // the encoder is single-threaded; compare like with like
        let root = work.run("encode")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (model, itemIds, categories) = try syntheticBundle(at: root + "/model", d: d, items: items, seed: 7)
        let shape = model.config
        let catalog = Dictionary(
            uniqueKeysWithValues: itemIds.enumerated().map {
                ($1, ItemInfo(category: categories[$0 % categories.count]))
            })

        print(
            "BSE encode vs floor — d = \(d), m = \(shape.m), τ = \(shape.tau), K = \(shape.window), \(items) items, "
                + "~\(behaviors) behaviors per row, f32 sums, no fsync, 1 BLAS thread, median of \(repeats), "
                + "bucket-add kernel \(Rows.usesAVX2 ? "AVX2" : "x86-64 baseline")"
        )
        print("| L | users | encode beh/s | sgemm-hash beh/s | raw-LMDB-write beh/s | encode / floor |")
        print("|---:|---:|---:|---:|---:|---:|")
        var json: [String: Double] = [:]
        for length in parsedLengths {
            let users = max(1, behaviors / length)
            let log = uniformLog(users: users, length: length, itemIds: itemIds, seed: UInt64(length))
            let data = Dataset(behaviors: log, items: catalog)
            let total = Double(users * length)

            var encodeTimes: [Double] = [], totalTimes: [Double] = [], gemmTimes: [Double] = [],
                writeTimes: [Double] = []
            var recordBytes = 0
            for r in 0..<repeats {
                // 1. The encoder itself (fresh store each time): parse-free, from an in-memory log.
                let storeDir = root + "/store-\(length)-\(r)"
                let store = try Store(path: storeDir, durability: .noSync)
                let encoder = try BehaviorEncoder(model: model, store: store)
                let report = try encoder.encode(data)
                encodeTimes.append(report.itemsSeconds + report.usersSeconds)
                totalTimes.append(report.seconds)
                print(
                    "  L=\(length) grouping \(fmt(report.groupingSeconds, 3)) s, "
                        + "items \(fmt(report.itemsSeconds, 3)) s, "
                        + "users \(fmt(report.usersSeconds, 3)) s"
                )

                // 2. The same writes with raw C calls: same keys, same value sizes, same batching (256 users/txn).
                var users: [(String, [UInt8])] = [], chunks: [([UInt8], [UInt8])] = []
                try store.environment.read { txn in
                    try txn.scan(store.users) { k, v in
                        users.append((String(decoding: k, as: UTF8.self), Array(v))); return .next
                    }
                    try txn.scan(store.sequences) { k, v in
                        chunks.append((Array(k), Array(v))); return .next
                    }
                }
                recordBytes = users.first?.1.count ?? 0
                writeTimes.append(try rawWrites(users: users, chunks: chunks, dir: root + "/raw-\(length)-\(r)"))

                // 3. The hashing as one sgemm: [N, d] behavior vectors × Pᵀ [d, m], plus the sign test.
                gemmTimes.append(gemmHash(model: model, log: log, catalog: catalog))
                try? FileManager.default.removeItem(atPath: storeDir)
            }
            let enc = median(encodeTimes), gemm = median(gemmTimes), write = median(writeTimes)
            let floor = max(gemm, write)
            print(
                tableRow(
                    "\(length)", "\(users)", fmt(total / enc, 0), fmt(total / gemm, 0), fmt(total / write, 0),
                    fmt(enc / floor, 2)))
            json["L\(length)_encode_behaviors_per_s"] = total / enc
            json["L\(length)_floor_behaviors_per_s"] = total / floor
            json["L\(length)_encode_over_floor"] = enc / floor
            json["record_bytes_f32"] = Double(recordBytes)
        }
        json["record_bytes_f16"] = Double(printRecordSizes(model))
        try textLogs(model, itemIds: itemIds, catalog: catalog, root: root, json: &json)
        let out = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
        print(String(decoding: out, as: UTF8.self))
    }

    /// The text-log rows (`TextLogBench`) over users of L = the first of --lengths.
    func textLogs(
        _ model: ModelBundle, itemIds: [String], catalog: [String: ItemInfo], root: String, json: inout [String: Double]
    ) throws {
        guard textBehaviors > 0 else { return }
        let length = parsedLengths[0]
        let log = uniformLog(
            users: max(1, textBehaviors / length), length: length, itemIds: itemIds, seed: UInt64(length) + 1)
        var text = TextLogBench(root: root, model: model, modelFolder: root + "/model", repeats: repeats)
        text.baselineCLI = baselineCLI
        try text.run(log, catalog: catalog, json: &json)
    }

    /// Prints the user record's size at both precisions; returns the f16 size.
    func printRecordSizes(_ model: ModelBundle) -> Int {
        let c = model.config
        let f16 = UserRecord(
            nSig: c.signatures, buckets: c.buckets, d: c.d, windowCapacity: c.window, fingerprint: model.fingerprint)
        var full = f16
        full.window = Array(repeating: .init(item: 0, itemRow: 0, categoryRow: 0), count: c.window)
        let bound = c.signatures * c.buckets * c.d * 2
        print(
            "user record bytes at d = \(c.d), full window: f32 \(full.encodedSize(precision: .f32)), "
                + "f16 \(full.encodedSize(precision: .f16)) (sums alone 16·8·\(c.d)·2 = \(bound); header+counts+window "
                + "\(full.encodedSize(precision: .f16) - bound)); "
                + "plus \(Store.sequenceEntrySize) bytes per behavior in "
                + "`sequences`"
        )
        return full.encodedSize(precision: .f16)
    }

    /// Seconds to write `users` and `chunks` with raw mdb_put into a fresh environment, 256 users per transaction.
    func rawWrites(users: [(String, [UInt8])], chunks: [([UInt8], [UInt8])], dir: String) throws -> Double {
        var o = Environment.Options()
        o.mapSize = 1 << 30
        o.durability = .noSync
        let env = try Environment(path: dir, options: o)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let usersDB = try env.database("users")!, seqDB = try env.database("sequences")!
        let raw = env.unsafeRawHandle
        var byUser: [String: [([UInt8], [UInt8])]] = [:]
        for c in chunks {
            let user = String(decoding: c.0.prefix { $0 != 0 }, as: UTF8.self)
            byUser[user, default: []].append(c)
        }
        func put(_ txn: OpaquePointer?, _ db: MDB_dbi, _ key: [UInt8], _ value: [UInt8]) throws {
            try key.withUnsafeBytes { k in
                try value.withUnsafeBytes { v in
                    var kv = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
                    var vv = MDB_val(mv_size: v.count, mv_data: UnsafeMutableRawPointer(mutating: v.baseAddress))
                    try checkRC(mdb_put(txn, db, &kv, &vv, 0))
                }
            }
        }
        return try time {
            for start in stride(from: 0, to: users.count, by: 256) {
                var txn: OpaquePointer?
                try checkRC(mdb_txn_begin(raw, nil, 0, &txn))
                for (user, record) in users[start..<min(start + 256, users.count)] {
                    try put(txn, usersDB.rawHandle, Array(user.utf8), record)
                    for (k, v) in byUser[user] ?? [] { try put(txn, seqDB.rawHandle, k, v) }
                }
                try checkRC(mdb_txn_commit(txn))
            }
        }
    }

    /// Seconds for the projections of every behavior vector as one sgemm and the sign test (the vectors are
    /// gathered beforehand, outside the timing).
    func gemmHash(model: ModelBundle, log: [Behavior], catalog: [String: ItemInfo]) -> Double {
        let c = model.config
        let n = log.count
        var vectors = [Float](repeating: 0, count: n * c.d)
        vectors.withUnsafeMutableBufferPointer { v in
            for (i, b) in log.enumerated() {
                model.embed(
                    itemRow: model.vocabulary.itemRow(b.item),
                    categoryRow: model.vocabulary.categoryRow(catalog[b.item]?.category ?? ""),
                    into: v.baseAddress! + i * c.d)
            }
        }
        var projections = [Float](repeating: 0, count: n * c.m)
        var signatures = [UInt8](repeating: 0, count: n * c.signatures)
        return time {
            vectors.withUnsafeBufferPointer { v in
                projections.withUnsafeMutableBufferPointer { p in
                    signatures.withUnsafeMutableBufferPointer { s in
                        model.signatures(
                            of: v.baseAddress!, count: n, projections: p.baseAddress!, into: s.baseAddress!)
                    }
                }
            }
        }
    }
}
