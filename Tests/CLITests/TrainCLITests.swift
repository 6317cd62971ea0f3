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
        let synth = try CLI.run([
            "synth", "--out", root + "/syn", "--users", "30", "--items", "60", "--clusters", "6", "--categories", "3",
            "--length", "20,80", "--seed", "2",
        ])
        #expect(synth.status == 0, "\(synth.stderr)")
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
}
