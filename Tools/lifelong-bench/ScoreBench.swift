import Tensors
import BehaviorLog
import ArgumentParser
import CAllocationCounter
import Offline
import Foundation
import LMDB
import Model
import Scorer
import Store

/// Per-request latency of every scoring mode over sequence lengths, and the speed ratios (flat in L, full over
/// bse, bse over short, FLOP efficiency), all measured in one run on one synthetic store.
struct ScoreBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract:
            "Scorer p50/p99 per mode and L (d = 128, B = 1000), the speed ratios (flat in L, full over bse, bse over "
            + "short, FLOP efficiency), and allocations per warm request."
    )

    @Option(help: "Sequence lengths L (comma-separated).") var lengths = "100,1000,10000,100000"
    @Option(help: "Candidates per request (B).") var candidates = 1000
    @Option(help: "Item vector width d = d_item + d_cat.") var d = 128
    @Option(help: "Items in the synthetic vocabulary.") var items = 20_000
    @Option(help: "Most requests per (L, mode); fewer when a cell exceeds --seconds.") var requests = 300
    @Option(help: "Time budget per (L, mode) cell, seconds.") var seconds = 2.0
    @OptionGroup var work: WorkFolder

    func validate() throws {
        try requireReleaseBuild()
        guard candidates > 0, d >= 2, items > 0, requests > 0, !parsedLengths.isEmpty else {
            throw ValidationError("--candidates, --d, --items, --requests must be positive; --lengths non-empty")
        }
    }

    var parsedLengths: [Int] { lengths.split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 } }

    func run() throws {
        printMachineHeader()
        let root = work.run("score")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (model, store, itemIds) = try scoringStore(at: root, d: d, items: items, lengths: parsedLengths)
        let c = model.config
        var rng = Gaussian(seed: 17)
        let scorer = try Scorer(model: model, store: store)
        let batch = (0..<candidates).map { _ in itemIds[Int(rng.bits() % UInt64(items))] }
        var long = [Float](repeating: 0, count: candidates * c.d)
        let p50 = try latencyTable(scorer, c, candidates: batch)

        // The long-term term alone, full vs bse, at L = 10^4 (or the largest L below it).
        let l4 = parsedLengths.filter { $0 <= 10_000 }.max() ?? parsedLengths[0]
        let user4 = "L\(l4)"
        func longOnly(_ mode: Scorer.Mode) throws -> Double {
            percentile(
                try measure {
                    try long.withUnsafeMutableBufferPointer {
                        try scorer.longTermInterest(user: user4, candidates: batch, mode: mode, into: $0)
                    }
                }, 0.5)
        }
        let longBSE = try longOnly(.bse), longFull = try longOnly(.full)

        let counted = 50
        let allocations = try allocations(scorer, user: user4, candidates: batch, requests: counted)

        // FLOPs of one bse request and single-thread sgemm peak, same run.
        let flops = bseFlops(c, length: l4)
        let peak = try bestSgemmPeak(), loadedPeak = BLAS.info.isBest ? peak : loadedSgemmPeak()
        let bseL4 = p50["bse@\(l4)"] ?? .nan
        let results: [(String, Double, String)] = [
            (
                "bse p50 flat in L: L = \(parsedLengths.max()!) over L = \(parsedLengths.min()!)",
                (p50["bse@\(parsedLengths.max()!)"] ?? .nan) / (p50["bse@\(parsedLengths.min()!)"] ?? .nan),
                "goal ≤ 1.10"
            ),
            ("long-term term alone, full over bse, L = \(l4)", longFull / longBSE, "goal ≥ 50"),
            ("whole request, full over bse, L = \(l4)", (p50["full@\(l4)"] ?? .nan) / bseL4, "(the MLP is shared)"),
            ("bse over short, L = \(l4)", bseL4 / (p50["short@\(l4)"] ?? .nan), "goal ≤ 1.10"),
            (
                "FLOP efficiency: bse FLOP/s over the best sgemm this CPU allows (1 thread)", flops / bseL4 / peak,
                "goal ≥ 0.70"
            ),
        ]
        printRatios(results)
        print(
            "long-term term p50: bse \(fmt(longBSE * 1e3, 3)) ms, full \(fmt(longFull * 1e3, 3)) ms; "
                + "bse request \(fmt(flops / 1e6, 1)) MFLOP at \(fmt(flops / bseL4 / 1e9, 1)) GFLOP/s, "
                + "best sgemm \(fmt(peak / 1e9, 1)) GFLOP/s, "
                + "loaded kernels' sgemm \(fmt(loadedPeak / 1e9, 1)) GFLOP/s"
        )
        let table = scorer.candidateTableSize
        print(
            "candidate table: \(table.entries) entries (\(items) items), "
                + "\(fmt(Double(table.bytes) / 1_048_576, 1)) MiB, \(table.bytes / max(table.entries, 1)) bytes per "
                + "entry (4 · (h_1 + d_a + n_sig) = \(4 * (c.hidden[0] + c.attentionDim + c.signatures)), "
                + "plus chunk rounding)"
        )
        print(
            "heap allocations per warm bse request: \(fmt(Double(allocations) / Double(counted), 2)) "
                + "(\(allocations) in \(counted) requests)"
        )
        try printJSON(results, allocationsPerRequest: Double(allocations) / Double(counted), p50: p50)
    }

    func printRatios(_ results: [(String, Double, String)]) {
        print("")
        print("| ratio | value | |")
        print("|---|---:|---|")
        for (name, value, goal) in results { print("| \(name) | \(fmt(value, 3)) | \(goal) |") }
        print("")
    }

    /// The figures as one JSON line: the ratios, allocations per request and every p50 in ms.
    func printJSON(_ results: [(String, Double, String)], allocationsPerRequest: Double, p50: [String: Double]) throws {
        var json: [String: Double] = [
            "bse_flat_in_L": results[0].1, "full_over_bse_long": results[1].1, "full_over_bse_request": results[2].1,
            "bse_over_short": results[3].1,
            "flop_efficiency": results[4].1, "allocations_per_request": allocationsPerRequest,
        ]
        for (k, v) in p50 { json["p50_ms_\(k)"] = v * 1e3 }
        let data = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }

    /// p50 and p99 of every mode at every length, printed as a table; returns the p50s by "mode@L".
    func latencyTable(
        _ scorer: Scorer, _ c: ModelBundle.Config, candidates batch: [String]
    ) throws -> [String: Double] {
        var out = [Float](repeating: 0, count: batch.count)
        print(
            "Scorer — d = \(c.d), B = \(candidates), m = \(c.m), τ = \(c.tau), K = \(c.window), H = \(c.heads), "
                + "d_a = \(c.attentionDim), "
                + "MLP \(5 * c.d)→\(c.hidden[0])→\(c.hidden[1])→1, 1 BLAS thread, one request at a time")
        print("| L | mode | requests | p50 ms | p99 ms |")
        print("|---:|---|---:|---:|---:|")
        var p50: [String: Double] = [:]
        for length in parsedLengths {
            let user = "L\(length)"
            for mode in Scorer.Mode.allCases {
                let t = try measure {
                    try out.withUnsafeMutableBufferPointer {
                        try scorer.score(user: user, candidates: batch, mode: mode, into: $0)
                    }
                }
                p50["\(mode)@\(length)"] = percentile(t, 0.5)
                print(
                    tableRow(
                        "\(length)", "\(mode)", "\(t.count)", fmt(percentile(t, 0.5) * 1e3, 3),
                        fmt(percentile(t, 0.99) * 1e3, 3)))
            }
        }
        return p50
    }

    func measure(_ body: () throws -> Void) rethrows -> [Double] {
        try body(); try body()  // warm-up: scratch buffers grow to size
        var times: [Double] = []
        let start = DispatchTime.now().uptimeNanoseconds
        while times.count < requests {
            times.append(try time(body))
            if times.count >= 3, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 > seconds { break }
        }
        return times.sorted()
    }

    /// Heap allocations of `requests` warm bse requests (after one more to warm up).
    func allocations(_ scorer: Scorer, user: String, candidates batch: [String], requests: Int) throws -> Int {
        var out = [Float](repeating: 0, count: batch.count)
        try out.withUnsafeMutableBufferPointer {
            try scorer.score(user: user, candidates: batch, mode: .bse, into: $0)
        }
        lifelong_allocations_start()
        for _ in 0..<requests {
            try out.withUnsafeMutableBufferPointer {
                try scorer.score(user: user, candidates: batch, mode: .bse, into: $0)
            }
        }
        return Int(lifelong_allocations_stop())
    }

    /// FLOPs one bse request still does at sequence length `length` (multiply-adds count 2). What depends on
    /// the candidate alone — its projections, its query, the first layer's block on `q` — is in the scorer's
    /// candidate table and not counted.
    func bseFlops(_ c: ModelBundle.Config, length: Int) -> Double {
        let B = Double(candidates), dd = Double(c.d), da = Double(c.attentionDim), w = Double(min(c.window, length))
        let h1 = Double(c.hidden[0]), h2 = Double(c.hidden[1])
        return 2 * 2 * w * dd * da  // window keys and values
            + 2 * 2 * B * w * da + 2 * B * da * dd  // scores and weighted values; W_o
            + 2 * B * 4 * dd * h1 + 2 * B * h1 * h2 + 2 * B * h2  // MLP (the first layer without the q block)
            + B * Double(c.signatures) * dd  // bucket gather
    }
}
