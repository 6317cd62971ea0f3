import ArgumentParser
import BehaviorLog
import Foundation
import Model
import Offline
import Store

/// The text-log half of `lifelong-bench encode`: the same behaviors written as RecBole atomic files and as
/// JSON Lines, read alone (`Dataset.load`, the reader every command uses) and encoded end to end by the
/// `lifelong encode` binary beside this one (process start, model load, read, group, encode, commit).
struct TextLogBench {
    let root: String, model: ModelBundle, modelFolder: String, repeats: Int
    /// Another build's `lifelong` binary, timed on the same files in the same run (nil: none).
    var baselineCLI: String? = nil

    /// Writes both formats of `log` (with `catalog`), then measures the in-memory encoder on it and each
    /// format's reader and CLI encode; prints one row per format.
    func run(_ log: [Behavior], catalog: [String: ItemInfo], json: inout [String: Double]) throws {
        let folders = try write(log, catalog: catalog)
        var memory: [Double] = []
        for r in 0..<repeats {
            let folder = root + "/memory-\(r)"
            let encoder = try BehaviorEncoder(model: model, store: try Store(path: folder))  // durable, as the CLI
            memory.append(try encoder.encode(Dataset(behaviors: log, items: catalog)).seconds)
            try? FileManager.default.removeItem(atPath: folder)
        }
        let inMemory = Double(log.count) / median(memory)
        json["text_in_memory_behaviors_per_s"] = inMemory
        print("")
        print(
            "Text logs end to end — \(log.count) behaviors; the in-memory encoder (grouping included) on the same "
                + "behaviors: \(fmt(inMemory, 0)) beh/s; both it and `lifelong encode` with the store's default "
                + "durability (fsync at commit)")
        let extra = baselineCLI.map { _ in (" baseline `lifelong encode` beh/s | this over baseline |", "---:|---:|") }
        print(
            "| format | file MB | reader MB/s | reader beh/s | `lifelong encode` beh/s | end to end / in-memory |"
                + (extra?.0 ?? ""))
        print("|---|---:|---:|---:|---:|---:|" + (extra?.1 ?? ""))
        for (name, folder, file) in folders {
            let bytes = Int((try FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber) ?? 0)
            var reads: [Double] = [], clis: [Double] = [], baselines: [Double] = []
            for r in 0..<repeats {
                var loaded = 0
                reads.append(try time { loaded = try Dataset.load(folder).behaviors.count })
                guard loaded == log.count else {
                    throw ValidationError("\(folder): read \(loaded) behaviors, wrote \(log.count)")
                }
                if let baselineCLI {
                    baselines.append(try encodeByCLI(folder, store: root + "/base-\(name)-\(r)", binary: baselineCLI))
                }
                clis.append(try encodeByCLI(folder, store: root + "/cli-\(name)-\(r)"))
            }
            let read = median(reads), cli = median(clis)
            let n = Double(log.count), mb = Double(bytes) / 1e6
            var cells = [
                name, fmt(mb, 1), fmt(mb / read, 0), fmt(n / read, 0), fmt(n / cli, 0),
                fmt(n / cli / inMemory, 2),
            ]
            if !baselines.isEmpty {
                let base = median(baselines)
                cells += [fmt(n / base, 0), fmt(base / cli, 2)]
                json["\(name)_cli_over_baseline"] = base / cli
            }
            print("| " + cells.joined(separator: " | ") + " |")
            json["\(name)_reader_mb_per_s"] = mb / read
            json["\(name)_cli_encode_behaviors_per_s"] = n / cli
            json["\(name)_end_to_end_over_in_memory"] = n / cli / inMemory
        }
    }

    /// `(format, dataset folder, behaviors file)` for RecBole and JSON Lines.
    func write(_ log: [Behavior], catalog: [String: ItemInfo]) throws -> [(String, String, String)] {
        let recbole = root + "/text-recbole", jsonl = root + "/text-jsonl"
        for f in [recbole, jsonl] {
            try FileManager.default.createDirectory(atPath: f, withIntermediateDirectories: true)
        }
        var inter = "user_id:token\titem_id:token\ttimestamp:float\tlabel:float\n"
        var lines = ""
        inter.reserveCapacity(log.count * 24)
        lines.reserveCapacity(log.count * 60)
        for b in log {
            let label = b.label == true ? 1 : 0, t = Int64(b.timestamp)
            inter += "\(b.user)\t\(b.item)\t\(t)\t\(label)\n"
            lines += "{\"user\": \"\(b.user)\", \"item\": \"\(b.item)\", \"timestamp\": \(t), \"label\": \(label)}\n"
        }
        var items = "item_id:token\tclass:token\n", itemLines = ""
        for (id, info) in catalog.sorted(by: { $0.key < $1.key }) {
            items += "\(id)\t\(info.category ?? "")\n"
            itemLines += "{\"item\": \"\(id)\", \"category\": \"\(info.category ?? "")\"}\n"
        }
        try inter.write(toFile: recbole + "/text-recbole.inter", atomically: false, encoding: .utf8)
        try items.write(toFile: recbole + "/text-recbole.item", atomically: false, encoding: .utf8)
        try lines.write(toFile: jsonl + "/behaviors.jsonl", atomically: false, encoding: .utf8)
        try itemLines.write(toFile: jsonl + "/items.jsonl", atomically: false, encoding: .utf8)
        return [
            ("recbole", recbole, recbole + "/text-recbole.inter"), ("jsonl", jsonl, jsonl + "/behaviors.jsonl"),
        ]
    }

    /// Wall seconds of `lifelong encode --data folder --model … --store store --quiet`.
    func encodeByCLI(_ folder: String, store: String, binary: String? = nil) throws -> Double {
        let cli =
            binary.map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("lifelong")
        guard FileManager.default.isExecutableFile(atPath: cli.path) else {
            throw ValidationError("no `lifelong` binary beside lifelong-bench (\(cli.path)): build both in release")
        }
        let p = Process()
        p.executableURL = cli
        p.arguments = ["encode", "--data", folder, "--model", modelFolder, "--store", store, "--quiet"]
        p.standardOutput = FileHandle.nullDevice
        let seconds = try time {
            try p.run()
            p.waitUntilExit()
        }
        defer { try? FileManager.default.removeItem(atPath: store) }
        guard p.terminationStatus == 0 else {
            throw ValidationError("lifelong encode of \(folder) exited \(p.terminationStatus)")
        }
        return seconds
    }
}
