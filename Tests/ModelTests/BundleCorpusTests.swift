import Errors
import Foundation
import Model
import Testing
import TestSupport

/// The bundle corpus (`Fixtures/bundles/`, written by its own script with numpy, not by either loader): every
/// good bundle loads with its shape and fingerprint, every damaged one is refused with its kind and message.
/// `python/tests/test_bundle_corpus.py` holds `lifelong.bundle.load` and `lifelong.torch.load_bundle` to the
/// same cases.
@Suite("Bundle corpus: Fixtures/bundles")
struct BundleCorpusTests {
    static let root = Repository.fixture("bundles")

    static let cases: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.filter { FileManager.default.fileExists(atPath: root.path + "/\($0)/expected.json") }.sorted()
    }()

    @Test("the corpus is there, with good and damaged bundles")
    func corpusIsThere() {
        #expect(Self.cases.count >= 50)
        #expect(Self.cases.contains { $0.hasPrefix("good-") } && Self.cases.contains { $0.hasPrefix("st-") })
    }

    @Test("ModelBundle treats each case as its expected.json says", arguments: cases)
    func corpusCase(_ name: String) throws {
        let folder = Self.root.path + "/" + name
        let expected = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/expected.json")))
                as? [String: Any])
        if let error = expected["error"] as? [String: Any] {
            let error_ = try #require(throws: (any Error).self) { try ModelBundle(folder: folder) }
            let thrown = try #require(error_ as? any KindedError, "\(error_) is not a KindedError")
            #expect(thrown.kind.rawValue == error["kind"] as? String)
            #expect(ErrorKind(of: error_).rawValue == error["kind"] as? String)
            let message = (error["message"] as? String ?? "").replacingOccurrences(of: "{bundle}", with: folder)
            #expect(Array(thrown.message.utf8) == Array(message.utf8))  // bytes: `==` equates NFC and NFD
            return
        }
        let want = try #require(expected["config"] as? [String: Any])
        let bundle = try ModelBundle(folder: folder)
        let c = bundle.config
        func int(_ key: String) -> Int? { (want[key] as? NSNumber)?.intValue }
        #expect((c.feedback ? ModelBundle.feedbackFormat : ModelBundle.format) == want["format"] as? String)
        #expect(c.d == int("d") && c.dItem == int("d_item") && c.dCat == int("d_cat") && c.dText == int("d_text"))
        #expect(c.m == int("m") && c.tau == int("tau") && c.window == int("window") && c.heads == int("heads"))
        #expect(c.attentionDim == int("attention_dim") && c.hidden == (want["hidden"] as? [Int]))
        #expect(bundle.itemRows == int("n_items") && bundle.categoryRows == int("n_categories"))
        #expect(c.projectionSeed == UInt64(int("projection_seed") ?? -1))
        #expect(bundle.vocabulary.items.count == int("items"))
        #expect(bundle.vocabulary.categories.count == int("categories"))
        #expect(bundle.fingerprintHex == expected["fingerprint"] as? String)
    }
}
