import Errors
import Foundation
import Testing
import TestSupport
@testable import TextEncoder

/// all-MiniLM-L6-v2 as Tools/setup.sh fetches it.
let minilmFolder = Repository.miniLM
let goldenFile = Repository.golden("minilm.json")

struct GoldenCase {
    var text: String
    var ids: [Int32]
    var mean: [Int: [Double]]
    var normalized: [Int: [Double]]
}

func goldenCases() throws -> [GoldenCase] {
    let root = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: goldenFile)) as? [String: Any])
    let cases = try #require(root["cases"] as? [[String: Any]])
    return try cases.map { c in
        let layers = try #require(c["layers"] as? [String: [String: [Double]]])
        var mean: [Int: [Double]] = [:], normalized: [Int: [Double]] = [:]
        for (k, v) in layers {
            mean[Int(k)!] = v["mean"] ?? []
            normalized[Int(k)!] = v["normalized"] ?? []
        }
        return GoldenCase(
            text: try #require(c["text"] as? String), ids: try #require(c["ids"] as? [Int]).map(Int32.init),
            mean: mean, normalized: normalized)
    }
}

/// One model for the whole suite (loading reads 90 MB and hashes it).
let sharedModel = Result { try MiniLM(folder: minilmFolder) }

@Suite("all-MiniLM-L6-v2 against Fixtures/golden/minilm.json")
struct MiniLMGoldenTests {
    @Test("WordPiece ids equal the goldens exactly for every case")
    func tokenIds() throws {
        let model = try sharedModel.get()
        let cases = try goldenCases()
        #expect(cases.count >= 10)
        for c in cases { #expect(model.tokenizer.ids(c.text) == c.ids, "\(c.text.debugDescription)") }
    }

    @Test(
        "mean and normalized match the goldens within 1e-5 for every case and K in 0…6, one batch or one text at a time"
    )
    func layers() throws {
        let model = try sharedModel.get()
        let cases = try goldenCases()
        for k in 0...6 {
            let batched = try model.embed(cases.map(\.text), layers: k)
            for (c, e) in zip(cases, batched) {
                let single = try #require(try model.embed([c.text], layers: k).first)
                for (name, got, want) in [
                    ("mean", e.mean, c.mean[k]!), ("normalized", e.vector, c.normalized[k]!),
                    ("single-text mean", single.mean, c.mean[k]!),
                ] {
                    #expect(got.count == 384 && want.count == 384)
                    let worst = zip(got, want).map { abs(Double($0) - $1) }.max() ?? .infinity
                    #expect(worst <= 1e-5, "K=\(k) \(name) of \(c.text.debugDescription): max error \(worst)")
                }
            }
        }
    }

    @Test("a packed batch equals the texts run one by one (padding does not leak)")
    func packing() throws {
        let model = try sharedModel.get()
        let texts = [
            "Toy Story (1995)", "", "a much longer title that has quite a few more word pieces than the others (2001)",
            "é",
        ]
        let batched = try model.embed(texts, layers: 6)
        for (t, b) in zip(texts, batched) {
            let one = try #require(try model.embed([t], layers: 6).first)
            #expect(zip(one.vector, b.vector).allSatisfy { abs($0 - $1) <= 1e-6 })
        }
    }
}

@Suite("WordPiece tokenizer rules")
struct WordPieceTests {
    let tokenizer = try! WordPieceTokenizer(
        pieces: [
            "[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "want", "##ed", ",", "runn", "##ing", "!",
            "cafe", "中", "x",
        ], maxTokens: 8)

    @Test("greedy longest match with ## continuations; no match is [UNK]")
    func pieces() {
        #expect(tokenizer.wordPieces("unaffable") == [4, 5, 6])
        #expect(tokenizer.wordPieces("wanted") == [7, 8])
        #expect(tokenizer.wordPieces("unwanted") == [1])  // "##want" is not a piece
        #expect(tokenizer.wordPieces(String(repeating: "x", count: 101)) == [1])
    }

    @Test("clean-up, lower case, accents, punctuation, CJK, truncation")
    func basic() {
        #expect(tokenizer.basicTokens(" UNwant\u{0}ed,running!\t") == ["unwanted", ",", "running", "!"])
        #expect(tokenizer.basicTokens("Café\u{200B}中x") == ["cafe", "中", "x"])  // U+200B is a format character: dropped
        #expect(tokenizer.basicTokens("a$b") == ["a", "$", "b"])
        #expect(tokenizer.ids("x x x x x x x x x") == [2, 15, 15, 15, 15, 15, 15, 3])  // at most 8 ids
        #expect(tokenizer.ids("") == [2, 3])
    }

    @Test("a vocabulary without the special tokens is refused, naming what is missing")
    func special() {
        #expect(throws: LifelongError.self) { try WordPieceTokenizer(pieces: ["a", "b"]) }
    }
}

@Suite("text model files")
struct MiniLMFileTests {
    func copyModel(to dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for f in ["config.json", "vocab.txt"] {
            try FileManager.default.copyItem(atPath: minilmFolder + "/" + f, toPath: dir + "/" + f)
        }
    }

    @Test("a missing or corrupt model file is an error naming the file")
    func badFiles() throws {
        let dir = temporaryFolder("minilm")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try copyModel(to: dir)
        let missing = try #require(throws: LifelongError.self) { try MiniLM(folder: dir) }
        #expect(missing.message.contains(dir + "/model.safetensors"))
        // Truncated: the first megabyte of the real file.
        let head = try FileHandle(forReadingFrom: URL(fileURLWithPath: minilmFolder + "/model.safetensors")).read(
            upToCount: 1 << 20)!
        try head.write(to: URL(fileURLWithPath: dir + "/model.safetensors"))
        let truncated = try #require(throws: (any Error).self) { try MiniLM(folder: dir) }
        #expect("\(truncated)".contains(dir + "/model.safetensors"))
        try Data("{\"hidden_size\": 384".utf8).write(to: URL(fileURLWithPath: dir + "/config.json"))
        let config = try #require(throws: LifelongError.self) { try MiniLM(folder: dir) }
        #expect(config.message.contains(dir + "/config.json"))
    }
}
