import Tensors
import ArgumentParser
import CLMDB
import Foundation
import LMDB
import Model

/// Wrapper get/put cost next to the same work done with raw LMDB C calls, in one run, on one store.
struct LMDBBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lmdb",
        abstract: "LMDB wrapper get/put cost vs raw C calls (same keys, same process, same run)."
    )

    @Option(help: "Number of keys.") var keys = 200_000
    @Option(help: "Value size in bytes.") var valueSize = 64
    @Option(help: "Repetitions; the median is reported.") var repeats = 7
    @OptionGroup var work: WorkFolder

    func validate() throws {
        try requireReleaseBuild()
        guard keys > 0, valueSize > 0, repeats > 0 else {
            throw ValidationError("--keys, --value-size and --repeats must be positive")
        }
    }

    func run() throws {
        printMachineHeader()
        let dir = work.run("lmdb")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var options = Environment.Options()
        options.mapSize = max(64 << 20, keys * (valueSize + 64) * 4)
        options.durability = .noSync  // measure CPU cost, not fsync
        let env = try Environment(path: dir, options: options)
        var rng = Gaussian(seed: 42)  // the project's seeded generator
        let f = Fixture(
            env: env, wrapped: try env.database("wrapped")!, raw: try env.database("raw")!,
            order: (0..<UInt64(keys)).shuffled(using: &rng), value: [UInt8](repeating: 0x5A, count: valueSize),
            rawEnv: env.unsafeRawHandle)
        var sink = 0
        let (putWrapped, putRaw) = try puts(f)
        let (getWrapped, getRaw) = try gets(f, sink: &sink)
        let (txnWrapped, txnRaw) = try readsPerRequest(f, sink: &sink)
        precondition(sink != 0)
        try report([
            ("put (1 write txn, random order)", putWrapped, putRaw),
            ("get (1 read txn, random order)", getWrapped, getRaw),
            ("read txn + get (per request)", txnWrapped, txnRaw),
        ])
    }

    /// The store and the keys every measurement shares.
    struct Fixture {
        let env: Environment
        let wrapped: Database, raw: Database
        let order: [UInt64]
        let value: [UInt8]
        let rawEnv: OpaquePointer
    }

    /// Puts: one write transaction of `keys` puts, random key order, into an emptied database.
    func puts(_ f: Fixture) throws -> ([Double], [Double]) {
        let env = f.env, wrapped = f.wrapped, raw = f.raw, order = f.order, value = f.value, rawEnv = f.rawEnv
        var putWrapped: [Double] = [], putRaw: [Double] = []
        for _ in 0..<repeats {
            try env.write { txn in
                try txn.clear(wrapped); try txn.clear(raw)
            }
            putWrapped.append(
                try time {
                    try env.write { txn in
                        for k in order { try txn.put(wrapped, k, value) }
                    }
                } / Double(keys))
            putRaw.append(
                try time {
                    var txn: OpaquePointer?
                    try checkRC(mdb_txn_begin(rawEnv, nil, 0, &txn))
                    var bigEndian: UInt64 = 0
                    try value.withUnsafeBytes { v in
                        try withUnsafeMutableBytes(of: &bigEndian) { kb in
                            for k in order {
                                kb.storeBytes(of: k.bigEndian, as: UInt64.self)
                                var kv = MDB_val(mv_size: 8, mv_data: kb.baseAddress)
                                var vv = MDB_val(
                                    mv_size: v.count, mv_data: UnsafeMutableRawPointer(mutating: v.baseAddress))
                                try checkRC(mdb_put(txn, raw.rawHandle, &kv, &vv, 0))
                            }
                        }
                    }
                    try checkRC(mdb_txn_commit(txn))
                } / Double(keys))
        }

        return (putWrapped, putRaw)
    }

    /// Gets inside one read transaction (the scorer's pattern: many lookups per snapshot).
    func gets(_ f: Fixture, sink: inout Int) throws -> ([Double], [Double]) {
        let env = f.env, wrapped = f.wrapped, raw = f.raw, order = f.order, rawEnv = f.rawEnv
        var getWrapped: [Double] = [], getRaw: [Double] = []
        for _ in 0..<repeats {
            getWrapped.append(
                try time {
                    try env.read { txn in
                        for k in order { sink &+= Int(try txn.get(wrapped, k) { $0[0] } ?? 0) }
                    }
                } / Double(keys))
            getRaw.append(
                try time {
                    var txn: OpaquePointer?
                    try checkRC(mdb_txn_begin(rawEnv, nil, UInt32(MDB_RDONLY), &txn))
                    var bigEndian: UInt64 = 0
                    try withUnsafeMutableBytes(of: &bigEndian) { kb in
                        for k in order {
                            kb.storeBytes(of: k.bigEndian, as: UInt64.self)
                            var kv = MDB_val(mv_size: 8, mv_data: kb.baseAddress)
                            var vv = MDB_val()
                            let rc = mdb_get(txn, raw.rawHandle, &kv, &vv)
                            if rc == MDB_NOTFOUND { continue }
                            try checkRC(rc)
                            sink &+= Int(vv.mv_data.load(as: UInt8.self))
                        }
                    }
                    mdb_txn_abort(txn)
                } / Double(keys))
        }

        return (getWrapped, getRaw)
    }

    /// One read transaction per get (a request that reads one record).
    func readsPerRequest(_ f: Fixture, sink: inout Int) throws -> ([Double], [Double]) {
        let env = f.env, wrapped = f.wrapped, raw = f.raw, order = f.order, rawEnv = f.rawEnv
        let single = min(keys, 50_000)
        var txnWrapped: [Double] = [], txnRaw: [Double] = []
        for _ in 0..<repeats {
            txnWrapped.append(
                try time {
                    for k in order.prefix(single) {
                        sink &+= Int(try env.read { txn in try txn.get(wrapped, k) { $0[0] } } ?? 0)
                    }
                } / Double(single))
            txnRaw.append(
                try time {
                    // Raw C with the same recycling the wrapper does: mdb_txn_reset / mdb_txn_renew.
                    var txn: OpaquePointer?
                    try checkRC(mdb_txn_begin(rawEnv, nil, UInt32(MDB_RDONLY), &txn))
                    mdb_txn_reset(txn)
                    var bigEndian: UInt64 = 0
                    try withUnsafeMutableBytes(of: &bigEndian) { kb in
                        for k in order.prefix(single) {
                            try checkRC(mdb_txn_renew(txn))
                            kb.storeBytes(of: k.bigEndian, as: UInt64.self)
                            var kv = MDB_val(mv_size: 8, mv_data: kb.baseAddress)
                            var vv = MDB_val()
                            try checkRC(mdb_get(txn, raw.rawHandle, &kv, &vv))
                            sink &+= Int(vv.mv_data.load(as: UInt8.self))
                            mdb_txn_reset(txn)
                        }
                    }
                    mdb_txn_abort(txn)
                } / Double(single))
        }
        return (txnWrapped, txnRaw)
    }

    /// The table (median ns per operation, wrapper over raw C) and the JSON line.
    func report(_ rows: [(String, [Double], [Double])]) throws {
        print("LMDB wrapper vs raw C — \(keys) keys × \(valueSize)-byte values, median of \(repeats), ns/op")
        print("| operation | wrapper ns | raw C ns | wrapper / raw |")
        print("|---|---:|---:|---:|")
        var json: [String: Double] = [:]
        for (name, w, r) in rows {
            let mw = median(w) * 1e9, mr = median(r) * 1e9
            print("| \(name) | \(fmt(mw)) | \(fmt(mr)) | \(fmt(mw / mr, 3)) |")
            let key = name.split(separator: " ").first!
            json["\(key)_wrapper_ns"] = mw
            json["\(key)_raw_ns"] = mr
        }
        let data = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }
}

func checkRC(_ rc: Int32) throws {
    if rc != 0 { throw ValidationError("LMDB error \(rc): \(String(cString: mdb_strerror(rc)))") }
}
