import Errors
import Offline
import Foundation
import LMDB
import Model
import Store
import Testing
import Tensors
import BehaviorLog
import TestSupport

/// Starts the `lifelong` binary and returns the running process (output discarded).
func launch(_ arguments: [String]) throws -> Process {
    let p = Process()
    p.executableURL = CLI.binary
    p.arguments = arguments
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    return p
}

/// Every key and value of every database of a store (meta included), for comparing two stores.
func contents(_ path: String) throws -> [String: [[UInt8]: [UInt8]]] {
    try Store(path: path, readOnly: true).contents()
}

/// Writes a RecBole dataset folder holding `behaviors` (and the catalog as NAME.item).
func writeRecBole(_ behaviors: [Behavior], items: [String: ItemInfo], to folder: String) throws {
    let name = (folder as NSString).lastPathComponent
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    var inter = "user_id:token\titem_id:token\ttimestamp:float\tlabel:float\n"
    for b in behaviors {
        inter += "\(b.user)\t\(b.item)\t\(Behavior.text(ofTimestamp: b.timestamp))\t\(b.label == true ? 1 : 0)\n"
    }
    try inter.write(toFile: folder + "/\(name).inter", atomically: true, encoding: .utf8)
    var item = "item_id:token\tclass:token\n"
    for (id, info) in items.sorted(by: { $0.key < $1.key }) { item += "\(id)\t\(info.category ?? "")\n" }
    try item.write(toFile: folder + "/\(name).item", atomically: true, encoding: .utf8)
}

@Suite("Crash safety: SIGKILL during encode and append")
struct CrashTests {
    @Test(
        "killed ≥ 20 times at random: records valid, users absent or complete, a re-run gives the uninterrupted store"
    )
    func sigkill() throws {
        let root = temporaryFolder("crash")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let kills = Int(ProcessInfo.processInfo.environment["LIFELONG_CRASH_KILLS"] ?? "") ?? 24

        // A sizeable log, split by time into what is encoded and what is appended.
        #expect(
            try CLI.run([
                "synth", "--out", root + "/syn", "--users", "150", "--items", "1500", "--length", "30,800", "--seed",
                "4",
            ]).status == 0)
        let data = try Dataset.load(root + "/syn")
        let ordered = data.behaviors.sorted(by: Behavior.precedes)
        let cut = ordered[ordered.count * 6 / 10].timestamp
        let first = ordered.filter { $0.timestamp < cut }, second = ordered.filter { $0.timestamp >= cut }
        try writeRecBole(first, items: data.items, to: root + "/first")
        try writeRecBole(second, items: data.items, to: root + "/second")
        #expect(
            try CLI.run([
                "init-model", "--data", root + "/syn", "--out", root + "/model", "--d-item", "24", "--d-cat", "8",
            ]).status == 0)
        let model = try ModelBundle(folder: root + "/model")
        var lengthBefore: [String: Int] = [:], lengthAfter: [String: Int] = [:]
        for b in first { lengthBefore[b.user, default: 0] += 1 }
        for b in ordered { lengthAfter[b.user, default: 0] += 1 }

        let encode = ["encode", "--model", root + "/model", "--data", root + "/first", "--batch", "4", "--quiet"]
        let append = ["append", "--model", root + "/model", "--data", root + "/second", "--batch", "4", "--quiet"]

        // The uninterrupted runs, timed to aim the kills.
        var t0 = Date()
        #expect(try CLI.run(encode + ["--store", root + "/reference"]).status == 0)
        let encodeSeconds = Date().timeIntervalSince(t0)
        let encoded = try contents(root + "/reference")
        t0 = Date()
        #expect(try CLI.run(append + ["--store", root + "/reference"]).status == 0)
        let appendSeconds = Date().timeIntervalSince(t0)
        let appended = try contents(root + "/reference")

        /// Valid records, and each user either absent / at `before`, or complete at `after`.
        func check(_ store: String, before: [String: Int], after: [String: Int], phase: String) throws {
            guard FileManager.default.fileExists(atPath: store + "/data.mdb") else { return }
            let s: Store
            do { s = try Store(path: store, readOnly: true) } catch let e as LifelongError
                where e.message.contains("no 'meta' database")
            {
                // Killed before the store's databases were created (they are created all at once, or not at all).
                return
            }
            guard (try s.metaValues())["fingerprint"] != nil else { return }  // killed before the meta commit
            let summary = try StoreVerifier(store: s, model: model).verify()
            #expect(summary.faults.isEmpty, "\(phase): \(summary.faults.prefix(3))")
            try s.environment.read { txn in
                try txn.scan(s.users) { k, v in
                    let user = String(decoding: k, as: UTF8.self)
                    let length = Int(try UserRecord(decoding: v).length)
                    #expect(
                        length == before[user] || length == after[user],
                        "\(phase): user \(user) has \(length) behaviors")
                    return .next
                }
            }
        }

        var rng = Gaussian(seed: 12)
        var landed = 0
        for (phase, arguments, seconds, before, after, final) in [
            ("encode", encode, encodeSeconds, [String: Int](), lengthBefore, encoded),
            ("append", append, appendSeconds, lengthBefore, lengthAfter, appended),
        ] {
            let store = root + "/crashed"
            var phaseKills = 0, attempts = 0
            while phaseKills < kills / 2, attempts < kills * 4 {
                attempts += 1
                let p = try launch(arguments + ["--store", store])
                usleep(UInt32(rng.uniform() * Float(seconds) * 0.9e6))
                if p.isRunning {
                    kill(p.processIdentifier, SIGKILL)
                    phaseKills += 1
                }
                p.waitUntilExit()
                try check(store, before: before, after: after, phase: "\(phase) kill \(phaseKills)")
            }
            landed += phaseKills
            // Running the command again finishes the job: the same store as the uninterrupted run.
            let r = try CLI.run(arguments + ["--store", store])
            #expect(r.status == 0, "\(phase) re-run: \(r.stderr)")
            #expect(try contents(store) == final, "\(phase): the re-run store differs from the uninterrupted one")
        }
        #expect(landed >= kills, "only \(landed) kills landed while the command was running")
    }

    @Test("a reader slot left by a process killed inside its read transaction is cleared when the store is next opened")
    func staleReader() throws {
        let root = temporaryFolder("stale")
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(
            try CLI.run([
                "synth", "--out", root + "/syn", "--users", "100", "--items", "1000", "--length", "100,800", "--seed",
                "5",
            ]).status == 0)
        #expect(try CLI.run(["init-model", "--data", root + "/syn", "--out", root + "/model"]).status == 0)
        #expect(
            try CLI.run([
                "encode", "--model", root + "/model", "--data", root + "/syn", "--store", root + "/store", "--quiet",
            ]).status == 0)
        // This process keeps the store open, as a server would: LMDB resets the reader table only when the
        // opener is alone, so dead readers matter while others hold the store.
        let holder = try Store(path: root + "/store", readOnly: true)
        // `verify --model` holds one read transaction for its whole run: kill it once its snapshot shows in
        // the reader table. A kill that lands as it closes the store leaves no slot: try again.
        let verify = ["verify", "--store", root + "/store", "--model", root + "/model", "--quiet"]
        var slotLeft = false
        for _ in 0..<10 where !slotLeft {
            let p = try launch(verify)
            let inside = { (slots: [ReaderSlot]) in
                slots.contains { $0.process == p.processIdentifier && $0.snapshot != nil }
            }
            while p.isRunning, try !inside(holder.environment.readerSlots()) { usleep(200) }
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            slotLeft = try inside(holder.environment.readerSlots())
        }
        #expect(slotLeft, "no verify was killed inside its read transaction in 10 tries")
        // The next process to open the store clears the dead reader's slot.
        let next = try CLI.run(["verify", "--store", root + "/store", "--quiet"])
        #expect(next.status == 0, "\(next.stdout)")
        #expect(next.stdout.contains("cleared 1 reader slot(s)"), "\(next.stdout)")
        #expect(try holder.environment.clearStaleReaders() == 0)
    }
}
