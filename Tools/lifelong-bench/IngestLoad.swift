import ArgumentParser
import Foundation
import Glibc
import LMDB
import Model
import Offline
import Scorer
import Store
import Synchronization
import Tensors

/// The two figures of `lifelong-bench ingest` that need a second thread: scoring latency beside a paced writer,
/// and the freshness of a followed `lifelong ingest` (line written → a score that sees it).
struct IngestLoad: ParsableArguments {
    @Option(help: "Seconds of scoring alone, then beside the paced writer.") var readSeconds = 10.0
    @Option(help: "Events/s the writer is paced to beside the scoring thread.") var pacedRate = 50_000
    @Option(help: "Candidates per scoring request (bse).") var candidates = 1000
    @Option(help: "--max-delay (ms) of the followed `lifelong ingest`.") var maxDelay = 10
    @Option(help: "Probe events timed from their line's write to a score that sees them.") var probes = 200
    @Option(help: "Events/s of background lines while probing.") var followRate = 20_000

    func validate() throws {
        guard readSeconds > 0, pacedRate > 0, candidates > 0, maxDelay >= 0, probes > 0, followRate > 0 else {
            throw ValidationError(
                "--read-seconds, --paced-rate, --candidates, --probes, --follow-rate must be positive")
        }
    }

    func measure(
        _ model: ModelBundle, _ itemIds: [String], copyOf base: String, _ folder: String, stream: Stream
    ) throws -> [String: Double] {
        var out: [String: Double] = [:]
        let d = model.config.d
        let read = try readLoad(model, itemIds, copyOf: base, folder + "/read", stream: stream)
        let rise = read.beside.p99 / read.alone.p99 - 1
        print(
            "d = \(d), scoring beside the writer (bse, B = \(candidates), 1 scoring thread, 1 writer thread at "
                + "\(fmt(read.rate, 0)) events/s of \(pacedRate) asked): p50 \(ms(read.alone.p50)) → "
                + "\(ms(read.beside.p50)) ms, p99 \(ms(read.alone.p99)) → \(ms(read.beside.p99)) ms, "
                + "p99 rise \(fmt(rise * 100, 1)) % (goal ≤ 20 %)")
        out["score_p99_alone_ms"] = read.alone.p99 * 1e3
        out["score_p99_beside_writer_ms"] = read.beside.p99 * 1e3
        out["score_p99_rise"] = rise
        out["paced_writer_events_per_s"] = read.rate
        let fresh = try freshness(model, copyOf: base, folder + "/follow", stream: stream)
        print(
            "d = \(d), freshness of `lifelong ingest --follow --max-delay \(maxDelay)` (\(probes) probes over "
                + "\(followRate) background events/s): p50 \(ms(fresh.p50)) ms, p99 \(ms(fresh.p99)) ms "
                + "(goal p99 ≤ \(2 * maxDelay) ms)")
        out["freshness_p50_ms"] = fresh.p50 * 1e3
        out["freshness_p99_ms"] = fresh.p99 * 1e3
        return out
    }

    func ms(_ s: Double) -> String { fmt(s * 1e3, 2) }

    struct Tail { var p50: Double, p99: Double }

    static func tail(_ xs: [Double]) -> Tail {
        let s = xs.sorted()
        return Tail(p50: percentile(s, 0.5), p99: percentile(s, 0.99))
    }

    /// Scoring latencies of random users for `seconds` on this thread (bse, `candidates` random items).
    func scoringLatencies(_ scorer: Scorer, _ itemIds: [String], users: Int, seconds: Double) throws -> [Double] {
        var rng = Gaussian(seed: 23)
        let items = (0..<candidates).map { _ in itemIds[Int(rng.bits() % UInt64(itemIds.count))] }
        var out = [Float](repeating: 0, count: candidates), latencies: [Double] = []
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            let user = "u\(rng.bits() % UInt64(users))"
            latencies.append(
                try time {
                    try out.withUnsafeMutableBufferPointer {
                        try scorer.score(user: user, candidates: items, mode: .bse, into: $0)
                    }
                })
        }
        return latencies
    }

    /// Scoring alone, then beside a writer appending batches of 1,000 at `pacedRate` (what it reaches).
    func readLoad(
        _ model: ModelBundle, _ itemIds: [String], copyOf base: String, _ folder: String, stream: Stream
    ) throws -> (alone: Tail, beside: Tail, rate: Double) {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try copyStore(base, to: folder)
        let scorer = try Scorer(model: model, store: try Store(path: folder, durability: .noSync), writable: true)
        _ = try scoringLatencies(scorer, itemIds, users: stream.users, seconds: 1)  // warm
        let alone = Self.tail(try scoringLatencies(scorer, itemIds, users: stream.users, seconds: readSeconds))
        let stop = Atomic<Bool>(false), written = Atomic<Int>(0)
        let done = DispatchGroup()
        let started = Date()
        done.enter()
        Thread.detachNewThread { [pacedRate] in
            defer { done.leave() }
            let batch = 1000, period = Double(batch) / Double(pacedRate)
            var n = 0
            while !stop.load(ordering: .relaxed) {
                let due = started.addingTimeInterval(Double(n / batch) * period)
                if due > Date() { Thread.sleep(until: due) }
                _ = try! scorer.append(events: stream.events(n..<(n + batch)))
                n += batch
                written.store(n, ordering: .relaxed)
            }
        }
        let beside = Self.tail(try scoringLatencies(scorer, itemIds, users: stream.users, seconds: readSeconds))
        stop.store(true, ordering: .relaxed)
        let elapsed = Date().timeIntervalSince(started)
        done.wait()
        return (alone, beside, Double(written.load(ordering: .relaxed)) / elapsed)
    }

    /// `lifelong ingest --follow` in a child process on a file this thread writes: background lines at
    /// `followRate` from another thread, and probes — each the first behavior of a new user — timed from the
    /// write of their line to the first score (through a read-only scorer) that differs from a cold user's.
    func freshness(_ model: ModelBundle, copyOf base: String, _ folder: String, stream: Stream) throws -> Tail {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try copyStore(base, to: folder + "/store")
        let input = folder + "/events.jsonl"
        FileManager.default.createFile(atPath: input, contents: nil)
        let file = try FileHandle(forWritingTo: URL(fileURLWithPath: input))
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("lifelong")
        child.arguments = [
            "ingest", "--model", model.folder, "--store", folder + "/store", "--source", "bench", "--from", input,
            "--follow", "--max-batch", "1000", "--max-delay", "\(maxDelay)", "--durability", "nosync",
        ]
        child.standardError = FileHandle.nullDevice
        try child.run()
        defer {
            child.terminate()
            child.waitUntilExit()
        }
        let scorer = try Scorer(model: model, store: try Store(path: folder + "/store", readOnly: true))
        let lines = Mutex(file)
        @Sendable func write(_ line: String) { lines.withLock { $0.write(Data((line + "\n").utf8)) } }
        let stop = Atomic<Bool>(false)
        let done = DispatchGroup()
        done.enter()
        Thread.detachNewThread { [followRate] in
            defer { done.leave() }
            let started = Date()
            var n = 0
            while !stop.load(ordering: .relaxed) {
                let due = started.addingTimeInterval(Double(n) / Double(followRate))
                if due > Date() { Thread.sleep(until: due) }
                for e in stream.events(n..<(n + 100)) {
                    write(#"{"user":"\#(e.user)","item":"\#(e.item)","timestamp":\#(Int(e.timestamp))}"#)
                }
                n += 100
            }
        }
        defer {
            stop.store(true, ordering: .relaxed)
            done.wait()
        }
        let cold = try scorer.score(user: "never-seen", candidates: ["i0"])
        var latencies: [Double] = []
        for k in -1..<probes {  // probe -1 waits for the child to start; it is not timed
            let user = "probe\(k)"
            write(#"{"user":"\#(user)","item":"i1","timestamp":1}"#)
            let written = Date()
            while try scorer.score(user: user, candidates: ["i0"]) == cold {
                guard Date().timeIntervalSince(written) < 30 else {
                    throw ValidationError("probe \(k) was not seen within 30 s: is `lifelong ingest` running?")
                }
                usleep(200)
            }
            if k >= 0 { latencies.append(Date().timeIntervalSince(written)) }
            usleep(UInt32(5_000 + (k + 1) * 7_919 % 20_000))
        }
        return Self.tail(latencies)
    }
}
