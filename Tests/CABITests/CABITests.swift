import BehaviorLog
import Foundation
import Model
import Offline
import Scorer
import Store
import TestSupport
import Testing

/// A MovieLens-100K store (a random v2 bundle, every rating as a behavior), the expectations of the Swift
/// scorer on it, and the C programs of `c/` compiled with the system C compiler against `lifelong.h` and
/// `liblifelong_c.so`.
final class CFixture: Sendable {
    let root: String
    let library: String

    var model: String { root + "/model" }
    var store: String { root + "/store" }

    init() throws {
        library = try Self.libraryFolder()
        root = temporaryFolder("cabi", create: true)
        let data = try Dataset.load(Repository.movieLens)
        var shape = ModelBundle.Shape()
        shape.feedback = true
        let bundle = try ModelBundle.writeRandom(to: model, vocabulary: data.vocabularyIds, shape: shape, seed: 11)
        let store = try Store(path: self.store)
        _ = try BehaviorEncoder(model: bundle, store: store).encode(data)
        var other = shape
        other.window = 20
        try ModelBundle.writeRandom(to: root + "/other", vocabulary: data.vocabularyIds, shape: other, seed: 12)
        try FileManager.default.createDirectory(atPath: root + "/corrupt", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: model + "/vocab.tsv", toPath: root + "/corrupt/vocab.tsv")
        try Data("not a safetensors file".utf8).write(to: URL(fileURLWithPath: root + "/corrupt/model.safetensors"))
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    /// A copy of the store (for tests that append).
    func copyOfStore(_ name: String) throws -> String {
        let path = root + "/" + name
        try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: store + "/data.mdb", toPath: path + "/data.mdb")
        return path
    }

    /// Compiles `c/NAME.c` (or `source`) against the header and the library; returns the executable's path.
    func compile(_ name: String, source: String? = nil) throws -> String {
        let source = source ?? Repository.root.appendingPathComponent("Tests/CABITests/c/\(name).c").path
        let include = Repository.root.appendingPathComponent("Sources/CLifelong/include").path
        let binary = root + "/" + name
        let result = try run(
            "/usr/bin/env",
            [
                "cc", "-std=gnu11", "-O1", "-Wall", "-Wextra", "-Werror", "-pthread", "-I", include, source, "-o",
                binary,
                "-L", library, "-llifelong_c", "-Wl,-rpath," + library, "-lm",
            ])
        guard result.status == 0 else { throw CompileError(message: "cc \(name).c failed:\n\(result.output)") }
        return binary
    }

    struct CompileError: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    /// The folder of the test binary, where SwiftPM puts `liblifelong_c.so` of the same build.
    static func libraryFolder() throws -> String {
        let folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent()
        for candidate in [folder, folder.deletingLastPathComponent()] {
            let lib = candidate.appendingPathComponent("liblifelong_c.so").path
            if FileManager.default.fileExists(atPath: lib) { return candidate.path }
        }
        throw CompileError(
            message:
                "liblifelong_c.so is not next to the test binary in \(folder.path): build it first "
                + "(`swift build --build-tests` builds every product)")
    }
}

/// Runs a program; its exit status and its standard output and error, interleaved.
func run(
    _ executable: String, _ arguments: [String], in folder: String? = nil
) throws -> (
    status: Int32, output: String
) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let folder { process.currentDirectoryURL = URL(fileURLWithPath: folder) }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self))
}

@Suite("C ABI: liblifelong_c.so from C programs", .serialized, .timeLimit(.minutes(10)))
struct CABITests {
    static let fixture = Result { try CFixture() }

    @Test(
        "scores equal the Swift scorer in every mode; bad arguments give status and message; 2 threads score, 1 appends"
    )
    func cProgram() throws {
        let f = try Self.fixture.get()
        // The Swift scorer's answers: users with short and long histories, a cold user, unknown items.
        let scorer = try Scorer(modelFolder: f.model, storeFolder: f.store)
        var lines = ""
        let users = ["1", "13", "405", "655", "196", "cold-user"]
        var rng = SystemRandomNumberGenerator()
        for (u, user) in users.enumerated() {
            let n = u == 0 ? 1000 : 50 + u * 30
            var items = (0..<n).map { _ in String(Int.random(in: 1...1682, using: &rng)) }
            items[0] = "not-an-item"
            for mode in Scorer.Mode.allCases {
                let p = try scorer.score(user: user, candidates: items, mode: mode)
                let code = Scorer.Mode.allCases.firstIndex(of: mode)!
                lines += "\(user)\t\(code)\t\(items.joined(separator: " "))\t"
                lines += p.map { String(format: "%.9g", $0) }.joined(separator: " ") + "\n"
            }
        }
        let expectations = f.root + "/expectations.tsv"
        try lines.write(toFile: expectations, atomically: true, encoding: .utf8)
        let binary = try f.compile("abi_test")
        let result = try run(
            binary,
            [
                f.model, f.store, f.root + "/other", f.root + "/corrupt", expectations, try f.copyOfStore("w"),
                try f.copyOfStore("c"),
            ])
        print(result.output)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("all four modes"))
    }

    @Test("the README's C example compiles and prints the Swift scorer's probabilities")
    func readmeExample() throws {
        let f = try Self.fixture.get()
        let readme = try String(contentsOf: Repository.root.appendingPathComponent("README.md"), encoding: .utf8)
        let blocks = readme.components(separatedBy: "```c\n").dropFirst().map { $0.components(separatedBy: "```")[0] }
        let example = try #require(blocks.first, "README.md has no C example")
        let folder = f.root + "/readme"
        try FileManager.default.createDirectory(
            atPath: folder + "/Output/quickstart", withIntermediateDirectories: true)
        for name in ["model", "store"] {
            try FileManager.default.createSymbolicLink(
                atPath: folder + "/Output/quickstart/" + name, withDestinationPath: f.root + "/" + name)
        }
        try example.write(toFile: folder + "/example.c", atomically: true, encoding: .utf8)
        let binary = try f.compile("readme-example", source: folder + "/example.c")
        let result = try run(binary, [], in: folder)
        #expect(result.status == 0, "\(result.output)")
        let p = try Scorer(modelFolder: f.model, storeFolder: f.store).score(
            user: "196", candidates: ["242", "302", "377"])
        let printed = result.output.split(separator: "\n").compactMap { line in
            Float(line.split(separator: " ").last ?? "")
        }
        #expect(printed.count == 3)
        for (a, b) in zip(printed, p) { #expect(abs(a - b) <= 1e-6) }
    }

    @Test("a seeded fuzz of 10^5 calls: no crash, no hang, a status and a message for every failure, memory flat")
    func fuzz() throws {
        let f = try Self.fixture.get()
        let binary = try f.compile("fuzz")
        let result = try run(
            binary, [f.model, try f.copyOfStore("fuzz-a"), try f.copyOfStore("fuzz-b"), "100000", "20261201"])
        print(result.output)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("fuzz: 100000 calls"))
    }
}
