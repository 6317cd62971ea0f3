import Foundation
import Testing
import TestSupport

@Suite("lifelong train")
struct TrainCLITests {
    @Test(
        "trains a bundle with text atoms, writes training.json, embeds each text once across runs; refuses bad flags"
    )
    func train() throws {
        let modelDir = Repository.miniLM
        let root = temporaryFolder("train")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Self.synth(root + "/syn", users: 30, seed: 2)
        let args = [
            "train", "--data", root + "/syn", "--epochs", "2", "--batch", "64", "--d-item", "8", "--d-cat", "4",
            "--window", "5",
            "--attention-dim", "8", "--hidden", "16,8", "--text-layers", "1", "--d-text", "4", "--text-model", modelDir,
            "--text-store", root + "/cache", "--baseline", "--quiet",
        ]
        let first = try CLI.run(args + ["--out", root + "/model"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("text atoms (first 1 layers): 60 computed, 0 found"), "\(first.stdout)")
        #expect(
            first.stdout.contains("test  AUC") && first.stdout.contains("logistic regression on user and item ids"),
            "\(first.stdout)")
        for file in ["model.safetensors", "vocab.tsv", "training.json"] {
            #expect(FileManager.default.fileExists(atPath: root + "/model/" + file), "\(file)")
        }
        let report = try #require(
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: root + "/model/training.json"))) as? [String: Any])
        #expect((report["test"] as? [String: Any])?["auc"] as? Double != nil)
        #expect((report["epochs"] as? [Any])?.count ?? 0 >= 1)
        #expect(!FileManager.default.fileExists(atPath: root + "/model.partial"))

        // Second run into the same folder: every text from the cache, the old bundle replaced.
        let second = try CLI.run(args + ["--out", root + "/model", "--long", "full"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("0 computed, 60 found"), "\(second.stdout)")
        #expect(
            try String(contentsOfFile: root + "/model/training.json", encoding: .utf8).contains("\"long\" : \"full\""))

        let bad = try CLI.run(["train", "--data", root + "/syn", "--out", root + "/x", "--long", "dense"])
        #expect(bad.status == 64 && bad.stderr.contains("'dense' is invalid for '--long"), "\(bad.stderr)")
        let noData = try CLI.run(["train", "--data", root + "/missing", "--out", root + "/x"])
        #expect(noData.status != 0 && noData.stderr.contains(root + "/missing"))
        #expect(!FileManager.default.fileExists(atPath: root + "/x"))
    }

    @Test(
        "without --lr each searched rate runs and the best valid AUC is kept; flipped test labels change nothing kept"
    )
    func learningRateSearch() throws {
        let root = temporaryFolder("train-search")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Self.synth(root + "/syn", users: 40, seed: 3)
        let args = [
            "train", "--epochs", "3", "--batch", "64", "--d-item", "8", "--d-cat", "4", "--window", "5",
            "--attention-dim", "8", "--hidden", "16,8", "--quiet",
        ]
        let first = try CLI.run(args + ["--data", root + "/syn", "--out", root + "/a"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("learning rates tried: 0.0003 (valid AUC"), "\(first.stdout)")
        let a = try Self.report(root + "/a")
        let candidates = try #require(a["candidates"] as? [[String: Any]])
        #expect(candidates.map { ($0["learningRate"] as? Double).map { Float($0) } } == [3e-4, 1e-3, 3e-3])
        let valid = candidates.map { $0["validAUC"] as? Double ?? -1 }
        let kept = try #require(a["kept"] as? Int)
        #expect(kept == valid.firstIndex(of: valid.max()!), "the first best valid AUC is kept: \(valid)")
        #expect((a["valid"] as? [String: Any])?["auc"] as? Double == valid[kept])
        #expect((a["test"] as? [String: Any])?["auc"] as? Double == candidates[kept]["testAUC"] as? Double)

        // The same log with every label of the test period flipped: the test AUC moves, nothing chosen does.
        let testTime = try #require(a["testTime"] as? Double)
        try FileManager.default.createDirectory(atPath: root + "/flipped", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: root + "/syn/syn.item", toPath: root + "/flipped/flipped.item")
        let lines = try String(contentsOfFile: root + "/syn/syn.inter", encoding: .utf8).split(separator: "\n")
        let flipped = lines.enumerated().map { k, line -> String in
            var f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard k > 0, f.count == 4, let t = Double(f[2]), t >= testTime else { return String(line) }
            f[3] = f[3] == "1" ? "0" : "1"
            return f.joined(separator: "\t")
        }
        try (flipped.joined(separator: "\n") + "\n").write(
            toFile: root + "/flipped/flipped.inter", atomically: true, encoding: .utf8)
        let second = try CLI.run(args + ["--data", root + "/flipped", "--out", root + "/b"])
        #expect(second.status == 0, "\(second.stderr)")
        let b = try Self.report(root + "/b")
        #expect((b["candidates"] as? [[String: Any]])?.map { $0["validAUC"] as? Double ?? -1 } == valid)
        #expect(b["kept"] as? Int == kept)
        #expect(
            FileManager.default.contentsEqual(
                atPath: root + "/a/model.safetensors", andPath: root + "/b/model.safetensors"))
        #expect(
            (a["test"] as? [String: Any])?["auc"] as? Double != (b["test"] as? [String: Any])?["auc"] as? Double,
            "the flip reached the test period")

        let once = try CLI.run(args + ["--data", root + "/syn", "--out", root + "/c", "--lr", "0.001"])
        #expect(once.status == 0 && !once.stdout.contains("learning rates tried"), "\(once.stdout)")
        // One epoch allowed: the run is still improving when the cap ends it, and the output says so.
        let capped = try CLI.run(
            args + ["--data", root + "/syn", "--out", root + "/d", "--lr", "0.001", "--epochs", "1"])
        #expect(capped.stdout.contains("still improving when --epochs 1 ended it"), "\(capped.stdout)")
        let c = try Self.report(root + "/d")
        #expect((c["epochs"] as? [Any])?.count == 1 && c["bestEpoch"] as? Int == 1)
        let single = try Self.report(root + "/c")
        #expect(single["candidates"] == nil && single["kept"] == nil)
        #expect((single["options"] as? [String: Any])?["lr"] as? String == "0.001")
    }

    /// A small synthetic log (60 items in 6 clusters, 3 categories, 20 to 80 behaviors per user) in `out`.
    static func synth(_ out: String, users: Int, seed: Int) throws {
        let synth = try CLI.run([
            "synth", "--out", out, "--users", "\(users)", "--items", "60", "--clusters", "6", "--categories", "3",
            "--length", "20,80", "--seed", "\(seed)",
        ])
        #expect(synth.status == 0, "\(synth.stderr)")
    }

    static func report(_ folder: String) throws -> [String: Any] {
        try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/training.json")))
                as? [String: Any])
    }
}
