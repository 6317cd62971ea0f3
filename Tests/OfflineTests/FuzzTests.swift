import Foundation
import LMDB
import Testing
import TestSupport
import Tensors
import BehaviorLog
@testable import Offline
@testable import Model
@testable import Store

/// Hostile input: seeded random mutations of valid files and records. Every case must either parse or throw
/// the reader's own error naming the file (and line, tensor or key); a crash or a hang fails the run.
/// Cases in all: `LIFELONG_FUZZ_CASES` (CI: 10^5; the documented long run: 10^6), shared 10 % log files
/// (each case writes files), 30 % bundles, 60 % store records.
let fuzzCases = Int(ProcessInfo.processInfo.environment["LIFELONG_FUZZ_CASES"] ?? "") ?? 100_000

/// A scratch folder in memory when the machine has one (log cases write their files every time).
func fuzzFolder() -> String {
    let shm = "/dev/shm"
    let base = FileManager.default.fileExists(atPath: shm) ? shm : FileManager.default.temporaryDirectory.path
    return base + "/lifelong-fuzz-\(UUID().uuidString)"
}

struct Mutator {
    var rng: Gaussian
    static let interesting: [UInt8] = [
        0, 0xFF, 0x09, 0x0A, 0x0D, 0x22, 0x3A, 0x2D, 0x39, 0x80, 0xC3, 0x7B, 0x7D, 0x5B, 0x2C, 0x65,
    ]

    mutating func int(_ n: Int) -> Int { n <= 0 ? 0 : Int(rng.bits() % UInt64(n)) }

    /// One to four edits: bit flips, interesting bytes, deletions, duplications, insertions, truncation.
    mutating func mutate(_ input: [UInt8]) -> [UInt8] {
        var b = input
        for _ in 0...int(4) {
            let at = int(b.count + 1)
            switch int(7) {
            case 0 where !b.isEmpty: b[min(at, b.count - 1)] ^= UInt8(1 << int(8))
            case 1 where !b.isEmpty: b[min(at, b.count - 1)] = Self.interesting[int(Self.interesting.count)]
            case 2: b.removeSubrange(at..<min(b.count, at + 1 + int(16)))
            case 3: let end = min(b.count, at + 1 + int(32)); b.insert(contentsOf: b[at..<end], at: int(b.count + 1))
            case 4: b.insert(contentsOf: (0..<(1 + int(8))).map { _ in UInt8(truncatingIfNeeded: rng.bits()) }, at: at)
            case 5: b.removeSubrange(min(at, b.count)...)
            default: b.insert(Self.interesting[int(Self.interesting.count)], at: at)
            }
        }
        return b
    }
}

@Suite("Hostile input (fuzz)", .timeLimit(.minutes(5)))
struct FuzzTests {
    /// Writes `files` (name → bytes) into `folder` and loads the dataset; checks the outcome.
    func load(_ folder: String, _ files: [String: [UInt8]]) -> (ok: Bool, badError: String?) {
        for (name, bytes) in files {
            _ = FileManager.default.createFile(atPath: folder + "/" + name, contents: Data(bytes))
        }
        do {
            _ = try Dataset.load(folder)
            return (true, nil)
        } catch let e as Dataset.InputError {
            let named = files.keys.contains { e.file == folder + "/" + $0 } || e.file == folder
            return (false, named && !e.message.isEmpty ? nil : "\(e)")
        } catch {
            return (false, "not an input error: \(error)")
        }
    }

    @Test("RecBole .inter/.item and JSON Lines files")
    func logs() throws {
        let root = fuzzFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let recbole = root + "/ds", jsonl = root + "/jl"
        for f in [recbole, jsonl] {
            try FileManager.default.createDirectory(atPath: f, withIntermediateDirectories: true)
        }
        var inter = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
        var behaviors = ""
        for k in 0..<12 {
            inter += "u\(k % 4)\t\(k % 5)\t\(k % 5 + 1)\t\(1000 + k)\n"
            behaviors +=
                "{\"user\": \"u\(k % 4)\", \"item\": \(k % 5), \"timestamp\": \(1000 + k), \"label\": \(k % 2)}\n"
        }
        let item =
            "item_id:token\tclass:token_seq\tmovie_title:token_seq\trelease_year:token\n"
            + "0\tA B\tToy Story\t1995\n1\tB\tHeat\t1995\n"
        let items = "{\"item\": \"0\", \"category\": \"A\", \"text\": \"Toy\"}\n{\"item\": 1, \"category\": \"B\"}\n"
        var m = Mutator(rng: Gaussian(seed: 101))
        var parsed = 0, refused = 0, bad: [String] = []
        let cases = fuzzCases / 10
        for k in 0..<cases {
            let which = k % 4
            let outcome: (ok: Bool, badError: String?)
            switch which {
            case 0: outcome = load(recbole, ["ds.inter": m.mutate(Array(inter.utf8)), "ds.item": Array(item.utf8)])
            case 1: outcome = load(recbole, ["ds.inter": Array(inter.utf8), "ds.item": m.mutate(Array(item.utf8))])
            case 2:
                outcome = load(
                    jsonl, ["behaviors.jsonl": m.mutate(Array(behaviors.utf8)), "items.jsonl": Array(items.utf8)])
            default:
                outcome = load(
                    jsonl, ["behaviors.jsonl": Array(behaviors.utf8), "items.jsonl": m.mutate(Array(items.utf8))])
            }
            if outcome.ok { parsed += 1 } else { refused += 1 }
            if let e = outcome.badError, bad.count < 5 { bad.append(e) }
        }
        #expect(bad.isEmpty, "\(bad)")
        #expect(parsed > cases / 20 && refused > cases / 20, "parsed \(parsed), refused \(refused)")
    }

    @Test("safetensors and vocab.tsv of a model bundle")
    func bundles() throws {
        let root = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        var shape = ModelBundle.Shape()
        shape.dItem = 4; shape.dCat = 2; shape.m = 6; shape.tau = 3; shape.window = 3; shape.attentionDim = 4;
        shape.hidden = [3, 2]
        try ModelBundle.writeRandom(to: root, items: ["a", "b", "c"], categories: ["x"], shape: shape, seed: 1)
        let model = Array(try Data(contentsOf: URL(fileURLWithPath: root + "/model.safetensors")))
        let vocab = Array(try Data(contentsOf: URL(fileURLWithPath: root + "/vocab.tsv")))
        let modelPath = root + "/model.safetensors", vocabPath = root + "/vocab.tsv"
        var m = Mutator(rng: Gaussian(seed: 202))
        var parsed = 0, bad: [String] = []
        let cases = fuzzCases * 3 / 10
        for k in 0..<cases {
            let mutateModel = k % 2 == 0
            let modelBytes = mutateModel ? m.mutate(model) : model, vocabBytes = mutateModel ? vocab : m.mutate(vocab)
            do {
                let file = try Safetensors(data: Data(modelBytes), path: modelPath)
                let v = try Vocabulary(data: Data(vocabBytes), path: vocabPath)
                _ = try ModelBundle(file: file, vocabulary: v, fingerprint: [], folder: root)
                parsed += 1
            } catch {
                // The safetensors reader's and the bundle loader's errors start with the file's path (then the
                // line, or the tensor). A vocab.tsv row beyond a table is reported on that table's tensor.
                let d = "\(error)"
                let named =
                    mutateModel
                    ? d.hasPrefix(modelPath)
                    : (d.hasPrefix(vocabPath) || (d.hasPrefix(modelPath) && d.contains("vocab.tsv")))
                if !named, bad.count < 5 { bad.append("\(type(of: error)): \(error)") }
            }
        }
        #expect(bad.isEmpty, "\(bad)")
        #expect(parsed > 0 && parsed < cases, "parsed \(parsed)")
    }

    @Test("store records: user (decoded and in place), item and text atom records")
    func storeRecords() throws {
        var user = UserRecord(
            nSig: 4, buckets: 4, d: 3, windowCapacity: 5, fingerprint: [UInt8](repeating: 7, count: 32))
        user.sums = (0..<48).map(Float.init)
        user.counts = [UInt32](repeating: 1, count: 16)
        user.length = 4
        user.window = (0..<4).map { .init(item: UInt32($0), itemRow: 1, categoryRow: 0) }
        let item = ItemRecord(
            storeId: 3, itemRow: 2, categoryRow: 1, fingerprint: [UInt8](repeating: 7, count: 32), textHash: nil,
            signature: [1, 2, 3, 4], category: "c")
        let text = TextVectorRecord(
            layers: 2, modelFingerprint: [UInt8](repeating: 9, count: 32), vector: [Float](repeating: 0.25, count: 384))
        let originals: [[UInt8]] = [
            user.encoded(precision: .f32), user.encoded(precision: .f16), item.encoded(), text.encoded(),
        ]
        var m = Mutator(rng: Gaussian(seed: 303))
        var accepted = 0
        let cases = fuzzCases * 6 / 10
        for k in 0..<cases {
            let bytes = m.mutate(originals[k % originals.count])
            bytes.withUnsafeBytes { b in
                switch k % originals.count {
                case 0, 1:
                    if (try? UserRecord(decoding: b)) != nil { accepted += 1 }
                    // The scorer's in-place view (no checksum per request) must refuse or read within bounds.
                    if let view = try? UserRecord.View(b) {
                        for j in 0..<view.windowCount { _ = view.windowEntry(j) }
                        var sums = [Float](repeating: 0, count: view.nSig * view.buckets * view.d)
                        sums.withUnsafeMutableBufferPointer { view.copySums(into: $0.baseAddress!) }
                    }
                case 2: if (try? ItemRecord(decoding: b)) != nil { accepted += 1 }
                default: if (try? TextVectorRecord(decoding: b)) != nil { accepted += 1 }
                }
            }
        }
        // A checksum passes for a mutated record only when the mutation was a no-op (e.g. a flipped-back bit).
        #expect(accepted < cases / 50, "accepted \(accepted)")

        // In a store, a damaged record is a fault naming its key.
        let f = try VerifyFixture()
        defer { f.fixture.remove() }
        let user0 = f.users[0]
        let good = try #require(try records(f.store)[user0])
        var faulted = 0
        for _ in 0..<200 {
            let bytes = m.mutate(good)
            guard bytes != good else { continue }
            try f.store.environment.write { try $0.put(f.store.users, user0, bytes) }
            let faults = try StoreVerifier(store: f.store).verify().faults
            #expect(faults.allSatisfy { $0.key == "users/\(user0)" }, "\(faults)")
            if !faults.isEmpty { faulted += 1 }
        }
        #expect(faulted > 190)
    }
}
