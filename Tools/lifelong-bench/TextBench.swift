import Tensors
import BehaviorLog
import ArgumentParser
import Offline
import Foundation
import Model
import TextEncoder

/// Text atom throughput on MovieLens titles: the packed-batch BLAS path against one text per forward pass,
/// at K = 2 and K = 6, in the same run.
struct TextBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "text",
        abstract: "all-MiniLM-L6-v2 texts/s on MovieLens titles: packed batches vs one text at a time, K = 2 and 6."
    )
    @Option(help: "MovieLens-100K folder (from Tools/setup.sh).") var data = MiniLM.setupFolder("ml-100k")
    @Option(help: "all-MiniLM-L6-v2 folder.") var modelDir = MiniLM.defaultFolder
    @Option(help: "Layer counts K to measure (comma-separated).") var layers = "2,6"
    @Option(help: "Tokens per packed batch.") var batchTokens = 4096

    func validate() throws { try requireReleaseBuild() }

    func run() throws {
        printMachineHeader()
        BLAS.useOneThread()
        let model = try MiniLM(folder: modelDir)
        let titles = Array(Set(try Dataset.load(data).items.values.compactMap(\.text))).sorted()
        let tokens = titles.reduce(0) { $0 + model.tokenizer.ids($1).count }
        print(
            "all-MiniLM-L6-v2 on \(titles.count) distinct MovieLens titles (\(tokens) tokens, "
                + "\(fmt(Double(tokens) / Double(titles.count), 1)) per title), 1 BLAS thread"
        )
        print("| K | batched texts/s | one-at-a-time texts/s | speed-up |")
        print("|---:|---:|---:|---:|")
        var json: [String: Double] = [:]
        for k in layers.split(separator: ",").compactMap({ Int($0) }) {
            let batched = time { _ = try? model.embed(titles, layers: k, batchTokens: batchTokens) }
            let single = time { for t in titles { _ = try? model.embed([t], layers: k) } }
            print(
                tableRow(
                    "\(k)", fmt(Double(titles.count) / batched, 0), fmt(Double(titles.count) / single, 0),
                    fmt(single / batched, 2)))
            json["K\(k)_batched_texts_per_s"] = Double(titles.count) / batched
            json["K\(k)_single_texts_per_s"] = Double(titles.count) / single
            json["K\(k)_speedup"] = single / batched
        }
        print(String(decoding: try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]), as: UTF8.self))
    }
}
