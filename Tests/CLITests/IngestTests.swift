import Foundation
import LMDB
import Model
import Offline
import Scorer
import Store
import Testing
import TestSupport

@Suite("lifelong ingest: group commit, exactly once per source")
struct IngestTests {
    /// A store of a synthetic log and an events file of `count` lines over known and new users, with ties,
    /// events older than their user's last, and explicit offsets on some lines.
    static func fixture(_ root: String, count: Int) throws -> (model: String, store: String, events: String) {
        let steps = [
            ["synth", "--out", root + "/syn", "--users", "40", "--items", "400", "--length", "20,60", "--seed", "2"],
            ["init-model", "--data", root + "/syn", "--out", root + "/model", "--feedback"],
            ["encode", "--model", root + "/model", "--data", root + "/syn", "--store", root + "/store"],
        ]
        for step in steps { #expect(try CLI.run(step).status == 0, "\(step[0])") }
        var lines = ""
        for k in 1...count {
            let older = k % 97 == 0  // before anything stored: refused, reported with its offset
            let t = older ? 1.0 : 4e9 + Double(k / 3)
            let offset = k % 10 == 0 ? ", \"offset\": \(k)" : ""
            lines +=
                "{\"user\": \"u\(k % 53)\", \"item\": \"\(k % 301)\", "
                + "\"timestamp\": \(t), \"label\": \(k % 2)\(offset)}\n"
        }
        try lines.write(toFile: root + "/events.jsonl", atomically: true, encoding: .utf8)
        return (root + "/model", root + "/store", root + "/events.jsonl")
    }

    static func copy(_ store: String, to folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: store + "/data.mdb", toPath: folder + "/data.mdb")
    }

    @Test("killed 50 times at random and restarted on the same input: the store of the uninterrupted run")
    func sigkill() throws {
        let root = temporaryFolder("ingest-crash")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let f = try Self.fixture(root, count: 1000)
        try Self.copy(f.store, to: root + "/reference")
        try Self.copy(f.store, to: root + "/crashed")
        // nosync: a SIGKILL loses nothing LMDB has committed either way, and the runs are short.
        let ingest = [
            "ingest", "--model", f.model, "--source", "clicks", "--from", f.events, "--max-batch", "37",
            "--durability", "nosync",
        ]
        let t0 = Date()
        let reference = try CLI.run(ingest + ["--store", root + "/reference"])
        #expect(reference.status == 0, "\(reference.stderr)")
        let seconds = Date().timeIntervalSince(t0)
        let kills = Int(ProcessInfo.processInfo.environment["LIFELONG_INGEST_KILLS"] ?? "") ?? 50
        var g = SystemRandomNumberGenerator()
        for _ in 0..<kills {
            let p = try launch(ingest + ["--store", root + "/crashed"])
            usleep(UInt32(Double.random(in: 0.05...1, using: &g) * seconds * 1e6))
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
        let finish = try CLI.run(ingest + ["--store", root + "/crashed"])
        #expect(finish.status == 0, "\(finish.stderr)")
        #expect(try contents(root + "/crashed") == contents(root + "/reference"))
        let verify = try CLI.run(["verify", "--model", f.model, "--store", root + "/crashed"])
        #expect(verify.status == 0, "\(verify.stdout)")
        // Refused events are reported with their offsets; a finished input applies nothing when run again.
        #expect(reference.stderr.contains("offset 97: refused:") && reference.stderr.contains("older than"))
        let again = try CLI.run(ingest + ["--store", root + "/reference"])
        #expect(again.stdout.contains("\"appended\":0") && again.stdout.contains("\"skipped\":1000"))
        #expect(try contents(root + "/crashed") == contents(root + "/reference"))
        #expect(try CLI.run(["inspect", "--store", root + "/reference"]).stdout.contains("source clicks: offset 1000"))
    }

    @Test("a malformed line stops the run at its line, the events before it committed; the fixed input goes on")
    func malformedLine() throws {
        let root = temporaryFolder("ingest-bad")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let f = try Self.fixture(root, count: 300)
        try Self.copy(f.store, to: root + "/reference")
        let good = try String(contentsOfFile: f.events, encoding: .utf8)
        var lines = good.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let original = lines[149]
        lines[149] = "{\"user\": \"u1\", \"item\": 5"  // line 150
        try lines.joined(separator: "\n").write(toFile: f.events, atomically: true, encoding: .utf8)
        let ingest = ["ingest", "--model", f.model, "--source", "s", "--from", f.events, "--max-batch", "64"]
        let bad = try CLI.run(ingest + ["--store", f.store])
        #expect(bad.status != 0 && bad.stderr.contains("events.jsonl:150: not a JSON object"), "\(bad.stderr)")
        #expect(try Store(path: f.store, readOnly: true).sourceOffset("s") == 149)
        lines[149] = original
        try lines.joined(separator: "\n").write(toFile: f.events, atomically: true, encoding: .utf8)
        #expect(try CLI.run(ingest + ["--store", f.store]).status == 0)
        #expect(try CLI.run(ingest + ["--store", root + "/reference"]).status == 0)
        #expect(try contents(f.store) == contents(root + "/reference"))
    }

    /// Offset values a store never writes: a changed byte, a sign, spaces, leading zeros, more than Int64.
    static let damagedOffsets = ["14x", "-3", "+150", " 150", "0150", "", "99999999999999999999", "150\n"]

    @Test(
        "an offset that does not parse is damaged: ingest refuses to start, verify and inspect name it",
        arguments: damagedOffsets)
    func damagedOffset(value: String) throws {
        let root = temporaryFolder("ingest-damaged")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let f = try Self.fixture(root, count: 300)
        let ingest = ["ingest", "--model", f.model, "--source", "s", "--from", f.events, "--store", f.store]
        #expect(try CLI.run(ingest).status == 0)
        do {
            let store = try Store(path: f.store)
            try store.environment.write { try $0.put(store.metaDatabase, "source/s", value) }
        }
        let before = try contents(f.store)
        let again = try CLI.run(ingest)
        #expect(again.status != 0, "\(again.stdout)")
        #expect(
            again.stderr.contains(f.store) && again.stderr.contains("source 's'") && again.stderr.contains("damaged")
                && !again.stderr.contains("refused"), "\(again.stderr)")
        #expect(try contents(f.store) == before, "nothing written")
        let verify = try CLI.run(["verify", "--model", f.model, "--store", f.store])
        #expect(verify.status != 0 && verify.stdout.contains("meta/source/s: is damaged"), "\(verify.stdout)")
        let inspect = try CLI.run(["inspect", "--store", f.store])
        #expect(inspect.stdout.contains("source s: offset damaged"), "\(inspect.stdout)")
        #expect(Store.parseSourceOffset(Array(value.utf8)) == nil)
    }

    @Test("offsets the store writes read back: 0, 149 and Int64.max")
    func offsetsRoundTrip() {
        for n: Int64 in [0, 149, .max] { #expect(Store.parseSourceOffset(Array(String(n).utf8)) == n) }
    }

    @Test("with --manifest each event goes to its user's shard: scores as one store, an offset per shard, once")
    func manifest() throws {
        let root = temporaryFolder("ingest-manifest")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let f = try Self.fixture(root, count: 300)
        try Self.copy(f.store, to: root + "/one")
        let ingest = [
            "ingest", "--model", f.model, "--source", "clicks", "--from", f.events, "--max-batch", "23",
            "--durability", "nosync",
        ]
        #expect(try CLI.run(ingest + ["--store", root + "/one"]).status == 0)
        var shards: [String] = []
        for k in 0..<2 {
            shards.append(root + "/shard-\(k)")
            let encode = [
                "encode", "--model", f.model, "--data", root + "/syn", "--store", shards[k], "--shard", "\(k)/2",
            ]
            #expect(try CLI.run(encode).status == 0)
        }
        let manifest = root + "/manifest.json"
        #expect(try CLI.run(["manifest", "--model", f.model, "--out", manifest] + shards).status == 0)
        let run = try CLI.run(ingest + ["--manifest", manifest])
        #expect(run.status == 0 && run.stderr.contains("offset 97: refused:"), "\(run.stderr)")
        let one = try Scorer(modelFolder: f.model, storeFolder: root + "/one", writable: false)
        let sharded = try StoreScorers(modelFolder: f.model, source: .manifest(manifest))
        let candidates = (0..<40).map { "\($0 * 7)" }
        for u in 0..<53 {
            for mode in Scorer.Mode.allCases {
                let want = try one.score(user: "u\(u)", candidates: candidates, mode: mode)
                #expect(try sharded.score(user: "u\(u)", candidates: candidates, mode: mode) == want, "u\(u) \(mode)")
            }
        }
        // Each shard's offset is the last batch's that had one of its users (the last batch: 300 alone).
        let offsets = try shards.map { try Store(path: $0, readOnly: true).sourceOffset("clicks") ?? -1 }
        #expect(offsets.max() == 300 && offsets.allSatisfy { $0 >= 300 - 23 }, "\(offsets)")
        let again = try CLI.run(ingest + ["--manifest", manifest])
        #expect(again.stdout.contains("\"appended\":0") && again.stdout.contains("\"skipped\":300"), "\(again.stdout)")
    }

    @Test("a second ingest of the same source is refused, naming the process that holds it")
    func oneWriterPerSource() throws {
        let root = temporaryFolder("ingest-lock")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let f = try Self.fixture(root, count: 20)
        let follow = ["ingest", "--model", f.model, "--store", f.store, "--source", "s", "--from", f.events]
        let first = try launch(follow + ["--follow"])
        defer {
            kill(first.processIdentifier, SIGKILL)
            first.waitUntilExit()
        }
        // Until the first holds the lock: its process id is in the lock file.
        func held() -> Bool {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: f.store)) ?? []
            return files.contains { name in
                name.hasPrefix("ingest-")
                    && (try? String(contentsOfFile: f.store + "/" + name, encoding: .utf8))?
                        .hasPrefix("\(first.processIdentifier)\n") == true
            }
        }
        for _ in 0..<200 where !held() { usleep(50_000) }
        let second = try CLI.run(follow)
        let holder = "by process \(first.processIdentifier)"
        #expect(second.status != 0 && second.stderr.contains(holder), "\(second.stderr)")
        let other = try CLI.run(follow.map { $0 == "s" ? "t" : $0 })
        #expect(other.status == 0, "another source goes on: \(other.stderr)")
    }
}
