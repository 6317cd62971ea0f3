import Foundation

/// Writes a replay's `report.md` (tables), `report.json` (every figure) and `latency.svg` (p50 latency against
/// sequence length per mode, and AUC per mode).
public enum Report {
    public static func write(_ result: ReplayResult, to folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        func put(_ name: String, _ data: Data) throws {
            try data.write(
                to: URL(fileURLWithPath: (folder as NSString).appendingPathComponent(name)), options: .atomic)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try put("report.json", try encoder.encode(result))
        try put("report.md", Data(markdown(result).utf8))
        try put("latency.svg", Data(svg(result).utf8))
    }

    /// Reads a `report.json` back.
    public static func read(_ path: String) throws -> ReplayResult {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try decoder.decode(ReplayResult.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    // MARK: Markdown

    private static func f(_ v: Double?, _ digits: Int = 4) -> String {
        v.map { String(format: "%.\(digits)f", $0) } ?? "n/a"
    }
    private static func ms(_ us: Double) -> String { String(format: "%.3f", us / 1000) }
    private static func mib(_ b: Int) -> String { String(format: "%.1f MiB", Double(b) / 1_048_576) }

    static func markdown(_ r: ReplayResult) -> String {
        header(r) + modeTables(r) + lengthTables(r) + resources(r)
    }

    /// What ran: the command, the build, the model, the data and the requests.
    private static func header(_ r: ReplayResult) -> String {
        var s = "# Lifelong replay report\n\n"
        s += "Command: `\(r.provenance["command"] ?? "?")`  \n"
        s +=
            "Build: \(r.provenance["build"] ?? "?"), \(r.provenance["machine"] ?? "?"), "
            + "\(r.provenance["date"] ?? "?")\n\n"
        s +=
            "Model: `\(r.model.folder)` (fingerprint \(r.model.fingerprint.prefix(16))…, d = \(r.model.d), "
            + "\(r.model.signatures) signatures × \(r.model.buckets) buckets, window \(r.model.window)). "
        s +=
            r.model.trained
            ? "Created by: \(r.model.createdBy ?? "unknown").\n\n"
            : "**Untrained**: a random bundle from `lifelong init-model`, so the AUCs below measure nothing but "
                + "agreement between modes; train one with `lifelong train`.\n\n"
        let d = r.data
        s +=
            "Data: \(d.behaviors) behaviors, \(d.users) users, \(d.items) items. History encoded: "
            + "\(d.historyBehaviors) behaviors "
            + "(before \(d.splitTime.map { String(format: "%.0f", $0) } ?? "the start"), \(f(d.encodeSeconds, 2)) s); "
            + "replayed: \(d.replayedEvents) events (\(d.labelledEvents) labelled), each scored in every mode, then "
            + "appended.\n\n"
        s +=
            "Requests: \(r.candidates) candidate\(r.candidates == 1 ? "" : "s")"
            + (r.candidates > 1
                ? " (the event's item + \(r.candidates - 1) sampled), every "
                    + "\(r.rankEvery == 1 ? "" : "\(r.rankEvery)th ")event"
                    + (r.rankEvery > 1 && r.minimumRankedPerBucket > 0
                        ? " and every event of a length bucket with fewer than \(r.minimumRankedPerBucket) so far" : "")
                : " per event")
            + "; one thread; store durability \(r.durability), precision \(r.precision).\n\n"
        return s
    }

    /// Accuracy and speed per mode, and the speed ratios.
    private static func modeTables(_ r: ReplayResult) -> String {
        var s = "## Accuracy and speed per mode\n\n"
        s +=
            "| mode | AUC | logloss | requests | p50 ms | p90 ms | p99 ms | max ms | requests/s "
            + "|\n|---|---|---|---|---|---|---|---|---|\n"
        for m in r.modes {
            let l = m.requests
            s +=
                "| \(m.mode) | \(f(m.auc)) | \(f(m.logloss)) | \(l.count) | \(ms(l.p50)) | \(ms(l.p90)) | "
                + "\(ms(l.p99)) | \(ms(l.max)) | \(f(m.requestsPerSecond, 0)) |\n"
        }
        s += "\n## Speed ratios\n\n| ratio | value | goal | what |\n|---|---|---|---|\n"
        for q in r.ratios { s += "| \(q.name) | \(f(q.value, 2)) | \(q.goal) | \(q.meaning) |\n" }
        if r.ratios.isEmpty { s += "| — | | | too few requests near L = 10^2 and 10^4 for the ratios |\n" }
        return s
    }

    /// p50 latencies by sequence length: whole requests and appends, then `u_long` alone.
    private static func lengthTables(_ r: ReplayResult) -> String {
        var s =
            "\n## p50 request latency (ms) by sequence length L\n\n| L | "
            + r.modes.map(\.mode).joined(separator: " | ") + " | append |\n"
        s += "|---|" + String(repeating: "---|", count: r.modes.count + 1) + "\n"
        var indices = Set(r.appendsByLength.map(\.bucket.index))
        for m in r.modes { indices.formUnion(m.requestsByLength.map(\.bucket.index)) }
        for i in indices.sorted() {
            func cell(_ rows: [ReplayResult.BucketLatency]?) -> String {
                guard let b = rows?.first(where: { $0.bucket.index == i }) else { return "" }
                return "\(ms(b.latency.p50)) (n=\(b.latency.count))"
            }
            s +=
                "| \(LengthBucket(index: i).label) | "
                + r.modes.map { cell($0.requestsByLength) }.joined(separator: " | ")
                + " | \(cell(r.appendsByLength)) |\n"
        }
        if r.modes.contains(where: { $0.longTerm != nil }) {
            s +=
                "\n## p50 latency of the long-term term u_long alone (ms) by L\n\n| L | "
                + r.modes.map(\.mode).joined(separator: " | ") + " |\n"
            s += "|---|" + String(repeating: "---|", count: r.modes.count) + "\n"
            for i in indices.sorted() {
                let cells = r.modes.map { m in
                    m.longTermByLength?.first { $0.bucket.index == i }.map { ms($0.latency.p50) } ?? ""
                }
                s += "| \(LengthBucket(index: i).label) | " + cells.joined(separator: " | ") + " |\n"
            }
        }
        return s
    }

    /// Appends, the store's size, memory and time.
    private static func resources(_ r: ReplayResult) -> String {
        let a = r.appends
        var s = "\n## Appends and resources\n\n"
        s +=
            "Append (through the scorer's writer, one write transaction each): \(a.count) appends, p50 \(ms(a.p50)) "
            + "ms, "
            + "p90 \(ms(a.p90)) ms, p99 \(ms(a.p99)) ms, max \(ms(a.max)) ms.  \n"
        s +=
            "Store: \(mib(r.storeBytes)) of LMDB pages in use after the replay. Peak memory (RSS): "
            + "\(mib(r.peakMemoryBytes)). "
            + "Whole run: \(f(r.seconds, 1)) s.\n\n"
        s += "Plot: `latency.svg`. Every figure and every per-event prediction: `report.json`.\n"
        return s
    }

    // MARK: SVG

    static let palette = ["bse": "#1b6ac9", "online": "#2ca02c", "full": "#d62728", "short": "#9467bd"]

    /// Two panels: p50 request latency against L (log–log, one line per mode, appends dashed), and AUC per mode.
    static func svg(_ r: ReplayResult) -> String {
        let width = 960.0, height = 440.0
        var s = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" \
            viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(left + plotW / 2)" y="24" text-anchor="middle" \
            font-size="15">p50 latency per request against sequence length \
            (\(r.candidates) candidate\(r.candidates == 1 ? "" : "s"))</text>

            """
        var series: [(String, [(Double, Double)], Bool)] = r.modes.map { m in
            (m.mode, m.requestsByLength.compactMap { b in b.bucket.exponent.map { ($0, b.latency.p50 / 1000) } }, false)
        }
        series.append(
            ("append", r.appendsByLength.compactMap { b in b.bucket.exponent.map { ($0, b.latency.p50 / 1000) } }, true)
        )
        guard !series.flatMap(\.1).isEmpty else {
            return s + "<text x=\"100\" y=\"100\">no requests</text></svg>\n"
        }
        return s + latencyPanel(series) + aucPanel(r) + "</svg>\n"
    }

    private static let left = 80.0, top = 50.0, plotW = 560.0, plotH = 320.0
    private static func num(_ v: Double) -> String { String(format: "%.1f", v) }

    /// p50 latency against L, log–log: axes, grid, one line per series (dashed ones dashed) and the legend.
    private static func latencyPanel(_ series: [(String, [(Double, Double)], Bool)]) -> String {
        let points = series.flatMap(\.1)
        var s = ""
        let xMin = (points.map(\.0).min()!).rounded(.down), xMax = max((points.map(\.0).max()!).rounded(.up), xMin + 1)
        let logs = points.map { log10(max($0.1, 1e-4)) }
        let yMin = logs.min()!.rounded(.down), yMax = max(logs.max()!.rounded(.up), yMin + 1)
        func px(_ e: Double) -> Double { left + (e - xMin) / (xMax - xMin) * plotW }
        func py(_ ms: Double) -> Double { top + plotH - (log10(max(ms, 1e-4)) - yMin) / (yMax - yMin) * plotH }

        // Axes, grid and ticks.
        s +=
            "<rect x=\"\(num(left))\" y=\"\(num(top))\" width=\"\(num(plotW))\" height=\"\(num(plotH))\" "
            + "fill=\"none\" stroke=\"#333\"/>\n"
        for e in stride(from: xMin, through: xMax, by: 1) {
            s +=
                "<line x1=\"\(num(px(e)))\" y1=\"\(num(top))\" x2=\"\(num(px(e)))\" y2=\"\(num(top + plotH))\" "
                + "stroke=\"#ddd\"/>\n"
            s +=
                "<text x=\"\(num(px(e)))\" y=\"\(num(top + plotH + 18))\" "
                + "text-anchor=\"middle\">\(Self.power(e))</text>\n"
        }
        for e in stride(from: yMin, through: yMax, by: 1) {
            let y = top + plotH - (e - yMin) / (yMax - yMin) * plotH
            s +=
                "<line x1=\"\(num(left))\" y1=\"\(num(y))\" x2=\"\(num(left + plotW))\" y2=\"\(num(y))\" "
                + "stroke=\"#ddd\"/>\n"
            s += "<text x=\"\(num(left - 8))\" y=\"\(num(y + 4))\" text-anchor=\"end\">\(Self.decimal(e))</text>\n"
        }
        s +=
            "<text x=\"\(num(left + plotW / 2))\" y=\"\(num(top + plotH + 40))\" text-anchor=\"middle\">sequence "
            + "length L (behaviors before the event; log scale)</text>\n"
        s +=
            "<text transform=\"translate(22 \(num(top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\">p50 "
            + "latency (ms; log scale)</text>\n"

        // One line per mode, appends dashed.
        for (k, (name, pts, dashed)) in series.enumerated() where !pts.isEmpty {
            let color = palette[name] ?? "#7f7f7f"
            let path = pts.sorted { $0.0 < $1.0 }.map { "\(num(px($0.0))),\(num(py($0.1)))" }.joined(separator: " ")
            s +=
                "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(color)\" "
                + "stroke-width=\"2\"\(dashed ? " stroke-dasharray=\"6 4\"" : "")/>\n"
            for p in pts { s += "<circle cx=\"\(num(px(p.0)))\" cy=\"\(num(py(p.1)))\" r=\"3\" fill=\"\(color)\"/>\n" }
            let ly = top + 14 + Double(k) * 18
            s +=
                "<line x1=\"\(num(left + 12))\" y1=\"\(num(ly - 4))\" x2=\"\(num(left + 36))\" "
                + "y2=\"\(num(ly - 4))\" stroke=\"\(color)\" "
                + "stroke-width=\"2\"\(dashed ? " stroke-dasharray=\"6 4\"" : "")/>\n"
            s += "<text x=\"\(num(left + 42))\" y=\"\(num(ly))\">\(name)</text>\n"
        }
        return s
    }

    /// AUC per mode, one bar each.
    private static func aucPanel(_ r: ReplayResult) -> String {
        let bx = left + plotW + 90, bw = 200.0
        var s = ""
        s +=
            "<text x=\"\(num(bx + bw / 2))\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">AUC per "
            + "mode\(r.model.trained ? "" : " (untrained model)")</text>\n"
        s +=
            "<rect x=\"\(num(bx))\" y=\"\(num(top))\" width=\"\(num(bw))\" height=\"\(num(plotH))\" fill=\"none\" "
            + "stroke=\"#333\"/>\n"
        let aucs = r.modes.map { ($0.mode, $0.auc) }
        let lo = 0.4, hi = 1.0
        func ay(_ v: Double) -> Double { top + plotH - (min(max(v, lo), hi) - lo) / (hi - lo) * plotH }
        for v in stride(from: lo, through: hi + 1e-9, by: 0.1) {
            s +=
                "<line x1=\"\(num(bx))\" y1=\"\(num(ay(v)))\" x2=\"\(num(bx + bw))\" y2=\"\(num(ay(v)))\" "
                + "stroke=\"#ddd\"/>\n"
            s +=
                "<text x=\"\(num(bx - 6))\" y=\"\(num(ay(v) + 4))\" "
                + "text-anchor=\"end\">\(String(format: "%.1f", v))</text>\n"
        }
        let slot = bw / Double(max(aucs.count, 1))
        for (k, (name, auc)) in aucs.enumerated() {
            let x = bx + Double(k) * slot + slot * 0.15
            if let auc {
                s +=
                    "<rect x=\"\(num(x))\" y=\"\(num(ay(auc)))\" width=\"\(num(slot * 0.7))\" "
                    + "height=\"\(num(top + plotH - ay(auc)))\" fill=\"\(palette[name] ?? "#7f7f7f")\"/>\n"
                s +=
                    "<text x=\"\(num(x + slot * 0.35))\" y=\"\(num(ay(auc) - 4))\" text-anchor=\"middle\" "
                    + "font-size=\"10\">\(String(format: "%.3f", auc))</text>\n"
            }
            s +=
                "<text x=\"\(num(x + slot * 0.35))\" y=\"\(num(top + plotH + 18))\" "
                + "text-anchor=\"middle\">\(name)</text>\n"
        }
        s +=
            "<text transform=\"translate(\(num(bx - 40)) \(num(top + plotH / 2))) rotate(-90)\" "
            + "text-anchor=\"middle\">AUC (replayed events)</text>\n"
        return s
    }

    static func power(_ e: Double) -> String { "10<tspan dy=\"-6\" font-size=\"9\">\(Int(e))</tspan>" }

    /// A decade in milliseconds as a plain number: 0.01, 0.1, 1, 10, …
    static func decimal(_ e: Double) -> String {
        let v = pow(10, e)
        return e < 0 ? String(format: "%.\(Int(-e))f", v) : String(format: "%.0f", v)
    }
}
