import BehaviorLog
import Foundation
import Model
import Tensors
import Testing
import TestSupport
@testable import Training

/// The Swift trainer's backward pass against an independent autograd: `lifelong.torch` (PyTorch, float64) on the
/// same bundle and batch, through `python/autograd.py` with the virtualenv set-up makes.
@Suite("Gradients against PyTorch autograd (float64)", .serialized)
struct AutogradTests {
    @Test(
        "loss and every tensor's gradient equal PyTorch's within 1e-4; v1, v2, with text; sdim, full, none",
        arguments: [(false, false), (true, false), (true, true)], LongTerm.allCases)
    func equalsAutograd(variant: (feedback: Bool, text: Bool), long: LongTerm) throws {
        let data = smallLog(users: 6, unlabelled: variant.feedback ? 0.25 : 0, ties: true)
        let folder = temporaryFolder("autograd")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let bundle = try smallBundle(data, in: folder + "/model", text: variant.text, feedback: variant.feedback)
        let set = try TrainingSet(
            data, vocabulary: bundle.vocabulary, textVectors: variant.text ? fakeTextVectors(data) : [:],
            validFraction: 0.4, testFraction: 0.7)
        let parameters = Parameters<Double>(bundle)
        let network = Network<Double>(
            config: bundle.config, long: long, data: set, projection: bundle.projection, offsets: parameters.offsets)
        var rng = Gaussian(seed: 2)
        var batch = set.train + set.valid + set.test
        rng.shuffle(&batch)

        // Swift.
        var g = [Double](repeating: 0, count: parameters.values.count)
        let loss = batch.withUnsafeBufferPointer { b in
            parameters.values.withUnsafeBufferPointer { network.forward(b, parameters: $0.baseAddress!) }
        }
        parameters.values.withUnsafeBufferPointer { w in
            g.withUnsafeMutableBufferPointer {
                network.backward(parameters: w.baseAddress!, gradients: $0.baseAddress!)
            }
        }

        // PyTorch, on the same batch.
        func rows(_ row: Int32) -> (Int, Int, Int) {
            (Int(row), Int(set.categoryOfItem[Int(row)]), Int(set.textOfItem[Int(row)]))
        }
        let spec: [String: Any] = [
            "long": long.rawValue,
            "labels": batch.map { $0.label ? 1.0 : 0.0 },
            "candidates": batch.map { s -> [Int] in
                let r = rows(set.candidate(s))
                return [r.0, r.1, r.2]
            },
            "histories": batch.map { s in
                set.history(s).map { j -> [Int] in
                    let r = rows(set.items[j])
                    return [r.0, r.1, Int(set.feedback[j]), r.2]
                }
            },
            "texts": stride(from: 0, to: set.texts.count, by: 384).map { set.texts[$0..<($0 + 384)].map(Double.init) },
        ]
        try JSONSerialization.data(withJSONObject: spec).write(to: URL(fileURLWithPath: folder + "/batch.json"))
        let python = Repository.root.appendingPathComponent(".venv/bin/python").path
        #expect(FileManager.default.fileExists(atPath: python), "no \(python): Tools/setup.sh makes the virtualenv")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [
            Repository.root.appendingPathComponent("Tests/TrainingTests/python/autograd.py").path, folder + "/model",
            folder + "/batch.json", folder + "/out.json",
        ]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "autograd.py failed: \(String(decoding: stderr, as: UTF8.self))")
        let out =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/out.json")))
            as! [String: Any]
        let torchLoss = out["loss"] as! Double
        #expect(abs(loss - torchLoss) <= 1e-10 * max(1, abs(torchLoss)), "loss \(loss) vs PyTorch \(torchLoss)")
        let gradients = out["gradients"] as! [String: [Double]]
        for t in parameters.tensors {
            let torchG = try #require(gradients[t.name], "PyTorch has no gradient for \(t.name)")
            let mine = Array(g[parameters.offset(t)..<(parameters.offset(t) + parameters.count(t))])
            #expect(mine.count == torchG.count, "\(t.name): \(mine.count) vs \(torchG.count) values")
            let scale = torchG.map(abs).max() ?? 0
            let worst = zip(mine, torchG).map { abs($0 - $1) }.max() ?? 0
            #expect(
                worst <= 1e-4 * scale + 1e-12,
                "\(long) \(t.name): largest difference \(worst), largest gradient \(scale)")
        }
    }
}
