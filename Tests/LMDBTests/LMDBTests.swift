import Foundation
import Testing
@testable import LMDB

/// A fresh store folder under the system temporary directory, removed afterwards.
func withTemporaryStore<R>(_ body: (String) throws -> R) throws -> R {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("lifelong-lmdb-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: dir) }
    return try body(dir)
}

func options(mapSize: Int = 1 << 20, readOnly: Bool = false) -> Environment.Options {
    var o = Environment.Options()
    o.mapSize = mapSize
    o.readOnly = readOnly
    return o
}

@Suite("LMDB storage layer", .timeLimit(.minutes(2)))
struct LMDBTests {
    @Test("put, get, delete, contains")
    func basics() throws {
        try withTemporaryStore { path in
            let env = try Environment(path: path, options: options())
            let db = try #require(try env.database("things"))
            try env.write { txn throws in
                try txn.put(db, "alpha", [1, 2, 3] as [UInt8])
                try txn.put(db, "beta", [4] as [UInt8])
            }
            try env.read { txn throws in
                #expect(try txn.get(db, "alpha") == [1, 2, 3])
                #expect(try txn.get(db, "beta") == [4])
                #expect(try txn.get(db, "gamma") == nil)
                #expect(try txn.contains(db, "alpha"))
                #expect(try txn.count(db) == 2)
            }
            let existed = try env.write { txn throws in (try txn.delete(db, "alpha"), try txn.delete(db, "nope")) }
            #expect(existed.0 == true && existed.1 == false)
            try env.read { txn throws in
                #expect(try txn.get(db, "alpha") == nil)
                #expect(try txn.count(db) == 1)
            }
        }
    }

    @Test("put modes: overwrite, noOverwrite, append")
    func putModes() throws {
        try withTemporaryStore { path in
            let env = try Environment(path: path, options: options())
            let db = try #require(try env.database("m"))
            try env.write { txn throws in
                #expect(try txn.put(db, UInt64(1), [1] as [UInt8]))
                #expect(try txn.put(db, UInt64(1), [2] as [UInt8], mode: .noOverwrite) == false)
                #expect(try txn.get(db, UInt64(1)) == [1])
                #expect(try txn.put(db, UInt64(1), [3] as [UInt8], mode: .overwrite))
                #expect(try txn.get(db, UInt64(1)) == [3])
                #expect(try txn.put(db, UInt64(5), [5] as [UInt8], mode: .append))
                #expect(throws: LMDBError.self) { try txn.put(db, UInt64(2), [2] as [UInt8], mode: .append) }
            }
        }
    }

    @Test("big-endian integer keys iterate in numeric order; ranges are half-open; reverse scans")
    func orderedIterationAndRanges() throws {
        try withTemporaryStore { path in
            let env = try Environment(path: path, options: options())
            let db = try #require(try env.database("ints"))
            let keys: [UInt64] = [300, 1, 70_000, 2, 256, 65_535, 1 << 40, 0]
            try env.write { txn throws in
                for k in keys { try txn.put(db, k, String(k)) }
            }
            try env.read { txn throws in
                var seen: [UInt64] = []
                try txn.scan(db) { key, value in
                    let k = UInt64(bigEndianKey: key)!
                    #expect(String(decoding: value, as: UTF8.self) == String(k))
                    seen.append(k)
                    return .next
                }
                #expect(seen == keys.sorted())

                #expect(try scanKeys(txn, db, 2, 65_535) == [2, 256, 300])
                #expect(try scanKeys(txn, db, 3, nil) == [256, 300, 65_535, 70_000, 1 << 40])
                #expect(try scanKeys(txn, db, nil, 2) == [0, 1])
                #expect(try scanKeys(txn, db, 2, 65_535, reverse: true) == [300, 256, 2])
                #expect(try scanKeys(txn, db, nil, nil, reverse: true) == keys.sorted().reversed())
                #expect(try scanKeys(txn, db, 65_536, 70_000).isEmpty)

                var firstTwo: [UInt64] = []
                try txn.scan(db) { key, _ in
                    firstTwo.append(UInt64(bigEndianKey: key)!)
                    return firstTwo.count == 2 ? .stop : .next
                }
                #expect(firstTwo == [0, 1])
            }
        }
    }

    @Test("prefix scans and cursor moves")
    func prefixAndCursor() throws {
        try withTemporaryStore { path in
            let env = try Environment(path: path, options: options())
            let db = try #require(try env.database("s"))
            try env.write { txn throws in
                for k in ["u/1", "u/2", "u/10", "v/1", "t/9"] { try txn.put(db, k, k) }
            }
            try env.read { txn throws in
                var got: [String] = []
                try txn.scan(db, prefix: Array("u/".utf8)) { key, _ in
                    got.append(String(decoding: key, as: UTF8.self))
                    return .next
                }
                #expect(got == ["u/1", "u/10", "u/2"])
                try txn.withCursor(db) { c throws in
                    #expect(try c.seek(exactly: "u/2"))
                    #expect(String(decoding: c.value, as: UTF8.self) == "u/2")
                    #expect(try c.next())
                    #expect(String(decoding: c.key, as: UTF8.self) == "v/1")
                    #expect(try c.next() == false)
                    #expect(try c.seek(exactly: "zzz") == false)
                    #expect(try c.last())
                    #expect(try c.previous())
                    #expect(String(decoding: c.key, as: UTF8.self) == "u/2")
                }
            }
            try env.write { txn throws in
                try txn.withCursor(db) { c throws in
                    #expect(try c.seek(atLeast: "u/"))
                    try c.deleteCurrent()
                    #expect(String(decoding: c.key, as: UTF8.self) == "u/10")
                }
                #expect(try txn.count(db) == 4)
            }
        }
    }

    @Test(
        "values from 1 byte to 1 MiB round-trip; large ones use overflow pages",
        arguments: [1, 2, 100, 2_000, 4_096, 65_537, 1 << 20])
    func valueSizes(size: Int) throws {
        try withTemporaryStore { path in
            let env = try Environment(path: path, options: options(mapSize: 8 << 20))
            let db = try #require(try env.database("blobs"))
            var rng = SystemRandomNumberGenerator()
            let value = (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }
            try env.write { txn throws in try txn.put(db, "k", value) }
            try env.read { txn throws in
                #expect(try txn.get(db, "k") == value)
                let stat = try txn.stat(db)
                if size > stat.pageSize / 2 { #expect(stat.overflowPages > 0) }
                if size <= 100 { #expect(stat.overflowPages == 0) }
            }
        }
    }

    @Test("MDB_RESERVE writes the value in place")
    func reservedPut() throws {
        try withTemporaryStore { path in
            let env = try Environment(path: path, options: options())
            let db = try #require(try env.database("r"))
            try env.write { txn throws in
                try txn.put(db, "k", reserving: 10) { buf in
                    for i in 0..<10 { buf[i] = UInt8(i * 3) }
                }
            }
            try env.read { txn throws in #expect(try txn.get(db, "k") == (0..<10).map { UInt8($0 * 3) }) }
        }
    }

    @Test("a write that overflows a small map succeeds after automatic growth")
    func mapGrowth() throws {
        try withTemporaryStore { path in
            let env = try Environment(path: path, options: options(mapSize: 64 << 10))
            let db = try #require(try env.database("grow"))
            let before = env.mapSize
            let value = [UInt8](repeating: 7, count: 1_000)
            var runs = 0
            try env.write { txn throws in
                runs += 1
                for i in 0..<4_000 { try txn.put(db, UInt64(i), value) }
            }
            #expect(runs > 1, "the body ran again after growth")
            #expect(env.mapSize > before)
            #expect(env.mapSize >= 4 << 20)
            try env.read { txn throws in
                #expect(try txn.count(db) == 4_000)
                #expect(try txn.get(db, UInt64(3_999)) == value)
            }
        }
    }

    @Test("growth stops at maxMapSize with a clear mapFull error and nothing committed")
    func growthBound() throws {
        try withTemporaryStore { path in
            var o = options(mapSize: 64 << 10)
            o.maxMapSize = 256 << 10
            let env = try Environment(path: path, options: o)
            let db = try #require(try env.database("bounded"))
            let value = [UInt8](repeating: 1, count: 1_000)
            #expect {
                try env.write { txn throws in for i in 0..<2_000 { try txn.put(db, UInt64(i), value) } }
            } throws: { error in
                LMDBError.Code.mapFull ~= error && "\(error)".contains("maxMapSize")
            }
            try env.read { txn throws in #expect(try txn.count(db) == 0) }
        }
    }

    @Test("read-only open refuses writes with a clear error; read-only open of a missing store fails")
    func readOnly() throws {
        try withTemporaryStore { path in
            do {
                let env = try Environment(path: path, options: options())
                let db = try #require(try env.database("d"))
                try env.write { txn throws in try txn.put(db, "k", "v") }
            }
            let ro = try Environment(path: path, options: options(readOnly: true))
            let db = try ro.existingDatabase("d")
            try ro.read { txn throws in #expect(try txn.get(db, "k") == Array("v".utf8)) }
            #expect {
                try ro.write { txn throws in try txn.put(db, "k", "w") }
            } throws: { error in
                guard let e = error as? LMDBError else { return false }
                return e.code == .accessDenied && e.description.contains("read-only") && e.description.contains(path)
            }
            #expect(throws: LMDBError.self) { try ro.existingDatabase("missing") }
            // A put inside a read transaction is refused by LMDB itself.
            #expect {
                try ro.read { txn throws in try txn.put(db, "k", "w") }
            } throws: { error in LMDBError.Code.accessDenied ~= error }
        }
        #expect {
            _ = try Environment(path: "/nonexistent/lifelong-store", options: options(readOnly: true))
        } throws: { error in
            guard let e = error as? LMDBError else { return false }
            return e.code == .noSuchFile && e.description.contains("/nonexistent/lifelong-store")
        }
    }

    @Test("an error thrown inside write {} leaves the database as it was")
    func rollbackOnThrow() throws {
        struct Boom: Error {}
        try withTemporaryStore { path in
            let env = try Environment(path: path, options: options())
            let db = try #require(try env.database("d"))
            try env.write { txn throws in try txn.put(db, "keep", "1") }
            #expect(throws: Boom.self) {
                try env.write { txn throws in
                    try txn.put(db, "keep", "2")
                    try txn.put(db, "new", "x")
                    _ = try txn.delete(db, "keep")
                    throw Boom()
                }
            }
            try env.read { txn throws in
                #expect(try txn.get(db, "keep") == Array("1".utf8))
                #expect(try txn.get(db, "new") == nil)
            }
        }
    }

    @Test("injected disk-full at commit: a clear error, the store unchanged, the environment usable")
    func injectedDiskFull() throws {
        try withTemporaryStore { path in
            let env = try Environment(path: path, options: options())
            let db = try #require(try env.database("d"))
            try env.write { txn throws in try txn.put(db, "a", "1") }
            env.faultInjector = { op in op == "mdb_txn_commit" ? LMDBError.Code.noSpace.rawValue : nil }
            #expect {
                try env.write { txn throws in try txn.put(db, "a", "2") }
            } throws: { error in
                guard let e = error as? LMDBError else { return false }
                return e.code == .noSpace && e.operation == "mdb_txn_commit" && e.description.contains("disk is full")
            }
            env.faultInjector = nil
            try env.read { txn throws in #expect(try txn.get(db, "a") == Array("1".utf8)) }
            try env.write { txn throws in try txn.put(db, "a", "3") }
            try env.read { txn throws in #expect(try txn.get(db, "a") == Array("3".utf8)) }
        }
    }

    @Test("injected MDB_MAP_FULL on a put triggers growth and a retry")
    func injectedMapFull() throws {
        try withTemporaryStore { path in
            let env = try Environment(path: path, options: options())
            let db = try #require(try env.database("d"))
            let fired = Counter()
            env.faultInjector = { op in
                (op == "mdb_put" && fired.increment() == 1) ? LMDBError.Code.mapFull.rawValue : nil
            }
            let before = env.mapSize
            try env.write { txn throws in try txn.put(db, "a", "1") }
            env.faultInjector = nil
            #expect(env.mapSize == before * 2)
            try env.read { txn throws in #expect(try txn.get(db, "a") == Array("1".utf8)) }
        }
    }

    @Test("error descriptions name the operation, the database and the folder")
    func errorDescription() throws {
        try withTemporaryStore { path in
            let env = try Environment(path: path, options: options())
            let db = try #require(try env.database("users"))
            env.faultInjector = { op in op == "mdb_get" ? LMDBError.Code.corrupted.rawValue : nil }
            #expect {
                try env.read { txn throws in _ = try txn.get(db, "k") }
            } throws: { error in
                let s = "\(error)"
                return s.contains("mdb_get") && s.contains("'users'") && s.contains(path) && s.contains("MDB_CORRUPTED")
            }
        }
    }

    @Test("readers on several threads while a writer commits see the old or the new value, never a mix")
    func concurrentReadersSeeWholeCommits() throws {
        try withTemporaryStore { path in
            let env = try Environment(path: path, options: options(mapSize: 16 << 20))
            let db = try #require(try env.database("d"))
            let keys = 8, valueSize = 3_000, rounds = 250, readers = 4
            func fill(_ generation: UInt8) throws {
                try env.write { txn in
                    for k in 0..<keys { try txn.put(db, UInt64(k), [UInt8](repeating: generation, count: valueSize)) }
                }
            }
            try fill(0)
            let stop = Flag()
            let started = DispatchSemaphore(value: 0)
            let done = DispatchGroup()  // readers run on their own threads, not the 2-thread cooperative pool
            let snapshots = Counter(), generationsSeen = Counter()
            for _ in 0..<readers {
                done.enter()
                Thread.detachNewThread {
                    defer { done.leave() }
                    var lastSeen: UInt8 = 0
                    var first = true
                    while !stop.isSet {
                        try! env.read { txn throws in
                            var generation: UInt8?
                            for k in 0..<keys {
                                try txn.get(db, UInt64(k)) { bytes in
                                    #expect(bytes.count == valueSize)
                                    let g = bytes[0]
                                    #expect(bytes.allSatisfy { $0 == g }, "torn value")
                                    if generation == nil { generation = g }
                                    #expect(generation == g, "two commits mixed in one snapshot")
                                }
                            }
                            #expect(generation! >= lastSeen, "a snapshot went back in time")
                            if generation! > lastSeen { _ = generationsSeen.increment() }
                            lastSeen = generation!
                        }
                        _ = snapshots.increment()
                        if first { started.signal(); first = false }
                    }
                }
            }
            for _ in 0..<readers { started.wait() }
            for g in 1...rounds { try fill(UInt8(g)) }
            stop.set()
            done.wait()
            #expect(snapshots.increment() > readers * 2)
            #expect(generationsSeen.increment() > 1, "readers observed commits while they ran")
        }
    }

    @Test(
        "a folder opened twice in one process shares one environment: reads of either survive the other's open, close"
    )
    func openTwiceInOneProcess() throws {
        try withTemporaryStore { path in
            let first = try Environment(path: path, options: options())
            let db = try #require(try first.database("d"))
            try first.write { txn in try txn.put(db, "k", [1] as [UInt8]) }
            try first.read { txn in _ = try txn.get(db, "k") }  // a reset transaction (and its reader slot) is pooled
            do {
                let second = try Environment(path: path, options: options(readOnly: true))
                let same = try #require(try second.database("d", create: false))
                #expect(try second.read { txn in try txn.get(same, "k") } == [1])
                #expect(throws: LMDBError.self) { try second.write { txn in try txn.put(same, "k", [2] as [UInt8]) } }
            }
            // With two MDB_envs the second open would have reset the reader table (MDB_BAD_RSLOT here).
            #expect(try first.read { txn in try txn.get(db, "k") } == [1])
            try first.write { txn in try txn.put(db, "k", [3] as [UInt8]) }
            let third = try Environment(path: path, options: options())
            #expect(try third.read { txn in try txn.get(db, "k") } == [3])
        }
    }

    @Test("unaligned float and integer reads return exact values")
    func unalignedReads() throws {
        try withTemporaryStore { path in
            let env = try Environment(path: path, options: options())
            let db = try #require(try env.database("f"))
            let floats: [Float] = [0, -0.0, 1.5, -3.25e-7, .pi, .greatestFiniteMagnitude, .leastNonzeroMagnitude, 1e30]
            for pad in 0..<4 {
                var bytes = [UInt8](repeating: 0xAB, count: pad)
                for f in floats { withUnsafeBytes(of: f.bitPattern.littleEndian) { bytes += $0 } }
                withUnsafeBytes(of: UInt64(0x0102_0304_0506_0708).littleEndian) { bytes += $0 }
                try env.write { txn throws in try txn.put(db, UInt32(pad), bytes) }
            }
            try env.read { txn throws in
                for pad in 0..<4 {
                    try txn.get(db, UInt32(pad)) { v throws in
                        for (i, f) in floats.enumerated() {
                            #expect(v.float32(at: pad + 4 * i).bitPattern == f.bitPattern)
                        }
                        let out = UnsafeMutablePointer<Float>.allocate(capacity: floats.count)
                        defer { out.deallocate() }
                        v.copyFloats(at: pad, count: floats.count, into: out)
                        for i in floats.indices { #expect(out[i].bitPattern == floats[i].bitPattern) }
                        #expect(v.littleEndian(UInt64.self, at: pad + 4 * floats.count) == 0x0102_0304_0506_0708)
                    }
                }
                // And misaligned starts from LMDB itself: some value start must be odd modulo 4 or 8, yet reads work.
            }
        }
    }

    @Test("read transactions nest and run on any thread (MDB_NOTLS)")
    func nestedReads() throws {
        try withTemporaryStore { path in
            let env = try Environment(path: path, options: options())
            let db = try #require(try env.database("d"))
            try env.write { txn throws in try txn.put(db, "k", "v") }
            try env.read { outer throws in
                try env.read { inner throws in
                    #expect(try inner.get(db, "k") == Array("v".utf8))
                }
                #expect(try outer.get(db, "k") == Array("v".utf8))
            }
        }
    }

    @Test("a nested write transaction is a precondition failure, not a deadlock")
    func nestedWriteTraps() async throws {
        await #expect(processExitsWith: .failure) {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lifelong-nested-\(getpid())").path
            let env = try! Environment(path: dir, options: Environment.Options())
            try! env.write { _ in try env.write { _ in } }
        }
    }

    @Test("mdb_stat (lmdb-utils) opens a store the wrapper wrote")
    func mdbStatOpensStore() throws {
        try withTemporaryStore { path in
            do {
                let env = try Environment(path: path, options: options())
                let db = try #require(try env.database("users"))
                try env.write { txn throws in for i in 0..<100 { try txn.put(db, UInt64(i), "x") } }
            }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/mdb_stat")
            p.arguments = ["-s", "users", path]
            let out = Pipe()
            p.standardOutput = out
            try p.run()
            p.waitUntilExit()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(p.terminationStatus == 0)
            #expect(text.contains("Entries: 100"))
        }
    }

    @Test("copy(compact:) writes a store that opens with the same data")
    func compactCopy() throws {
        try withTemporaryStore { path in
            let env = try Environment(path: path, options: options())
            let db = try #require(try env.database("d"))
            try env.write { txn throws in for i in 0..<50 { try txn.put(db, UInt64(i), String(i)) } }
            try withTemporaryStore { copyPath in
                try FileManager.default.createDirectory(atPath: copyPath, withIntermediateDirectories: true)
                try env.copy(to: copyPath, compact: true)
                let copy = try Environment(path: copyPath, options: options(readOnly: true))
                let cdb = try copy.existingDatabase("d")
                try copy.read { txn throws in
                    #expect(try txn.count(cdb) == 50)
                    #expect(try txn.get(cdb, UInt64(42)) == Array("42".utf8))
                }
            }
        }
    }
}

/// Keys of `db` in `[lo, hi)` as integers, via `Transaction.scan`.
func scanKeys(
    _ txn: borrowing Transaction, _ db: Database, _ lo: UInt64?, _ hi: UInt64?, reverse: Bool = false
) throws -> [UInt64] {
    var out: [UInt64] = []
    let lower = lo.map { k in k.withByteView { Array($0) } }
    let upper = hi.map { k in k.withByteView { Array($0) } }
    try txn.scan(db, from: lower, to: upper, reverse: reverse) { key, _ in
        out.append(UInt64(bigEndianKey: key)!)
        return .next
    }
    return out
}

func withTemporaryStoreAsync<R>(_ body: (String) async throws -> R) async throws -> R {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("lifelong-lmdb-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: dir) }
    return try await body(dir)
}

final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func increment() -> Int {
        lock.withLock {
            value += 1; return value
        }
    }
}
