import BehaviorLog
import Errors
import Foundation
import Testing
import TestSupport

/// The log rulebook (docs/FORMATS.md, "Behavior logs"): every case of `Fixtures/logs/` — its files and the
/// parse or the error it must give — read by `Dataset.load`. `python/tests/test_log_corpus.py` reads the same
/// cases with `lifelong.log.read`, so the two readers cannot drift apart.
@Suite("Log rulebook: the shared corpus of Fixtures/logs")
struct LogCorpusTests {
    static let root = Repository.fixture("logs")

    static let cases: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.filter { FileManager.default.fileExists(atPath: root.path + "/\($0)/expected.json") }.sorted()
    }()

    @Test("the corpus is there and covers valid and bad logs in both formats")
    func corpusIsThere() throws {
        #expect(Self.cases.count >= 100, "\(Self.cases.count) cases in \(Self.root.path)")
        for prefix in ["rb-", "jl-", "path-"] { #expect(Self.cases.contains { $0.hasPrefix(prefix) }) }
    }

    @Test("Dataset.load gives each case's parse or error", arguments: cases)
    func corpusCase(_ name: String) throws { try check(name, chunkBytes: nil) }

    /// The same read in chunks of one byte (each line its own chunk, parsed in parallel, then merged): the same
    /// behaviors, and the same first error, as one pass.
    @Test("Dataset.load in many chunks gives each case's parse or error, as one pass does", arguments: cases)
    func corpusCaseInChunks(_ name: String) throws { try check(name, chunkBytes: 1) }

    func check(_ name: String, chunkBytes: Int?) throws {
        func load(_ path: String, ratingThreshold: Double) throws -> Dataset {
            guard let chunkBytes else { return try Dataset.load(path, ratingThreshold: ratingThreshold) }
            return try Dataset.load(path, ratingThreshold: ratingThreshold, chunkBytes: chunkBytes)
        }
        let folder = Self.root.path + "/" + name
        let expected = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/expected.json")))
                as? [String: Any])
        let data = expected["data"] as? String ?? "."
        let path = data == "." ? folder : folder + "/" + data
        let threshold = (expected["rating_threshold"] as? NSNumber)?.doubleValue ?? 4
        if let error = expected["error"] as? [String: Any] {
            let thrown = try #require(throws: Dataset.InputError.self) {
                try load(path, ratingThreshold: threshold)
            }
            let file = error["file"] as? String ?? "."
            #expect(thrown.file == (file == "." ? folder : folder + "/" + file))
            #expect(thrown.line == (error["line"] as? NSNumber)?.intValue)
            #expect(bytes(thrown.reason) == bytes(error["message"] as? String))
            #expect(thrown.kind == ErrorKind(rawValue: error["kind"] as? String ?? ""))
            #expect(thrown.message == "\(thrown.file)\(thrown.line.map { ":\($0)" } ?? ""): \(thrown.reason)")
            return
        }
        let parse = try #require(expected["parse"] as? [String: Any])
        let log = try load(path, ratingThreshold: threshold)
        let behaviors = try #require(parse["behaviors"] as? [[String: Any]])
        #expect(log.behaviors.count == behaviors.count)
        for (got, want) in zip(log.behaviors, behaviors) {
            #expect(bytes(got.user) == bytes(want["user"] as? String))
            #expect(bytes(got.item) == bytes(want["item"] as? String))
            #expect(got.timestamp == (want["timestamp"] as? NSNumber)?.doubleValue)
            #expect(got.label == (want["label"] as? NSNumber)?.boolValue)
        }
        let items = try #require(parse["items"] as? [String: [String: Any]])
        #expect(Set(log.items.keys.map(bytes)) == Set(items.keys.map(bytes)))
        for (id, want) in items {
            #expect(bytes(log.items[id]?.category) == bytes(want["category"] as? String), "item \(id)")
            #expect(bytes(log.items[id]?.text) == bytes(want["text"] as? String), "item \(id)")
        }
    }

    /// A string's UTF-8 bytes: Swift's `==` on strings equates NFC and NFD spellings, the corpus does not.
    func bytes(_ s: String?) -> [UInt8]? { s.map { Array($0.utf8) } }
}
