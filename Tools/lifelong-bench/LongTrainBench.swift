import ArgumentParser
import BehaviorLog
import Foundation
import Model
import Offline
import Tensors
import Training

/// Training throughput over history length: samples/s of the trainer's step for sdim, full and none on
/// synthetic users with L behaviors each, d = 48 and 128, in one run, and the ratios that say whether SDIM's
/// training cost is independent of L.
struct LongTrainBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract:
            "Trainer samples/s for sdim, full and none over L (synthetic users of L behaviors) and d; sdim over full, "
            + "sdim over none, sdim flat in L; peak RSS of the longest L.")

    @Option(help: "History lengths L (comma-separated); every user of a row has exactly L behaviors.")
    var lengths = "100,1000,10000"
    @Option(help: "Item vector widths d (comma-separated).") var dims = "48,128"
    @Option(help: "Behaviors per row (users = this / L, at least 2).") var behaviors = 100_000
    @Option(help: "Samples per batch (batches are whole users; a longer user is a batch alone).") var batch = 1024
    @Option(help: "Time budget per cell, seconds (at least one batch is timed).") var seconds = 4.0
    @Option(help: "Seed of the synthetic logs.") var seed: UInt64 = 3

    func validate() throws {
        try requireReleaseBuild()
        guard !parse(lengths).isEmpty, !parse(dims).isEmpty, behaviors > 0, batch > 0, seconds > 0 else {
            throw ValidationError("--lengths and --dims need positive integers; --behaviors, --batch, --seconds > 0")
        }
    }

    func parse(_ list: String) -> [Int] { list.split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 } }

    func run() throws {
        printMachineHeader()
        BLAS.useOneThread()
        let folder = NSTemporaryDirectory() + "lifelong-bench-train-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let ls = parse(lengths), ds = parse(dims)
        var rate: [String: Double] = [:], peak: [String: Double] = [:]
        print(
            "Trainer step, v2 bundles (m = 48, τ = 3, K = 50, MLP 5d→200→80→1), batches of whole users "
                + "(≤ \(batch) samples), 1 BLAS thread"
        )
        print("| d | L | users | variant | samples timed | samples/s | peak RSS MiB |")
        print("|---:|---:|---:|---|---:|---:|---:|")
        for L in ls {
            var p = SyntheticLog.Parameters()
            p.users = max(2, behaviors / L)
            p.length = L...L
            p.seed = seed
            let log = SyntheticLog(p).generate()
            for d in ds {
                var shape = ModelBundle.Shape()
                shape.dCat = max(1, d / 4)
                shape.dItem = d - shape.dCat
                shape.feedback = true
                let bundle = try ModelBundle.writeRandom(
                    to: folder + "/d\(d)-L\(L)", vocabulary: log.vocabularyIds, shape: shape, seed: 1)
                let set = try TrainingSet(log, vocabulary: bundle.vocabulary)
                for variant in LongTerm.allCases {
                    var options = TrainingOptions()
                    options.long = variant
                    options.batch = batch
                    let trainer = Trainer(initial: bundle, data: set, options: options)
                    resetPeakRSS()
                    var timed = 0, elapsed = 0.0
                    for b in trainer.nextEpochBatches() {
                        elapsed += time { b.withUnsafeBufferPointer { _ = trainer.step($0) } }
                        timed += b.count
                        if elapsed >= seconds { break }
                    }
                    let key = "\(variant)@d\(d)@L\(L)"
                    rate[key] = Double(timed) / elapsed
                    peak[key] = peakRSSMiB()
                    print(
                        "| \(d) | \(L) | \(p.users) | \(variant) | \(timed) | \(fmt(rate[key]!, 0)) | "
                            + "\(fmt(peak[key]!, 0)) |")
                }
            }
        }
        let shortest = ls.min()!, longest = ls.max()!
        print("")
        print("| ratio | d | value | goal |")
        print("|---|---:|---:|---|")
        var json: [String: Double] = [:]
        for (k, v) in rate { json["samples_per_s_\(k)"] = v }
        for d in ds {
            for L in ls {
                let r = rate["sdim@d\(d)@L\(L)"]! / rate["full@d\(d)@L\(L)"]!, bound = fullOverSDIMFlops(d: d, L: L)
                json["sdim_over_full_d\(d)_L\(L)"] = r
                json["full_over_sdim_flops_d\(d)_L\(L)"] = bound
                print("| sdim over full, L = \(L) | \(d) | \(fmt(r, 2)) | FLOP ratio \(fmt(bound, 2)) (no goal) |")
            }
            for L in ls {
                let r = rate["sdim@d\(d)@L\(L)"]! / rate["none@d\(d)@L\(L)"]!
                json["sdim_over_none_d\(d)_L\(L)"] = r
                print("| sdim over none, L = \(L) | \(d) | \(fmt(r, 2)) | ≥ 0.5 |")
            }
            let flat = rate["sdim@d\(d)@L\(longest)"]! / rate["sdim@d\(d)@L\(shortest)"]!
            json["sdim_flat_d\(d)"] = flat
            print("| sdim at L = \(longest) over L = \(shortest) | \(d) | \(fmt(flat, 2)) | ≥ 0.8 |")
        }
        for (k, v) in peak where k.hasSuffix("@L\(longest)") { json["peak_rss_mib_\(k)"] = v }
        print(String(decoding: try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]), as: UTF8.self))
    }
}

/// FLOPs per sample of `full` over `sdim` (forward + backward ≈ 3 × forward; multiply-adds count 2), the
/// bound the measured speed ratio would meet if every FLOP ran at the same rate. Both variants pay the same
/// window attention (K), key/value/query projections and MLP; `full` adds attention over the sample's history
/// (mean length (L − 1)/2, every position of a user of L behaviors being a sample), `sdim` the Eq. 12 gather
/// and normalisation over n_sig buckets of d floats.
func fullOverSDIMFlops(d: Int, L: Int) -> Double {
    let s = ModelBundle.Shape()
    let da = Double(s.attentionDim), dd = Double(d), K = Double(s.window), h1 = Double(s.hidden[0])
    let h2 = Double(s.hidden[1]), nSig = Double(s.m / s.tau), history = Double(L - 1) / 2
    let shared = 3 * (4 * K * da + 2 * 3 * dd * da + 2 * da * dd + 2 * (5 * dd * h1 + h1 * h2 + h2))
    return (shared + 3 * 4 * history * da) / (shared + 3 * 2 * nSig * dd)
}

/// Resets the process's peak resident set size (`VmHWM`) to its current size (Linux: `clear_refs` 5).
func resetPeakRSS() {
    if let f = fopen("/proc/self/clear_refs", "w") {
        fputs("5", f)
        fclose(f)
    }
}

/// `VmHWM` of `/proc/self/status`, MiB.
func peakRSSMiB() -> Double {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
        let kib = Double(line.split(separator: " ").dropFirst().first ?? "")
    else { return .nan }
    return kib / 1024
}
