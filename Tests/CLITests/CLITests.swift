import Foundation
import Testing
import TestSupport

/// Runs the `lifelong` binary built next to the test bundle and captures what it prints.
struct CLI {
    static var binary: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("lifelong")
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// `environment`: variables to set (a nil value removes one) on top of this process's environment.
    static func run(_ arguments: [String], environment: [String: String?] = [:]) throws -> Result {
        let p = Process()
        p.executableURL = binary
        p.arguments = arguments
        if !environment.isEmpty {
            var env = ProcessInfo.processInfo.environment
            for (k, v) in environment { env[k] = v }
            p.environment = env
        }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(
            status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
            stderr: String(decoding: e, as: UTF8.self))
    }
}

@Suite("lifelong command line")
struct CLITests {
    @Test("--help describes the tool and exits 0")
    func help() throws {
        let r = try CLI.run(["--help"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("USAGE: lifelong"))
        #expect(r.stdout.contains("SDIM"))
    }

    @Test("--version prints the version and the BLAS kernels in use, and exits 0")
    func version() throws {
        let r = try CLI.run(["--version"])
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.first?.split(separator: ".").count == 3)
        #expect(lines.contains { $0.hasPrefix("BLAS: OpenBLAS") })
        #expect(lines.contains { $0.hasPrefix("BLAS library: OpenBLAS") && $0.contains("DYNAMIC_ARCH") })
    }

    /// `core X (chosen by Y; best for this CPU: Z)` from `lifelong --version`.
    func blasLine(_ environment: [String: String?]) throws -> (core: String, chosenBy: String, best: String) {
        let r = try CLI.run(["--version"], environment: environment)
        let line = try #require(r.stdout.split(separator: "\n").first { $0.hasPrefix("BLAS: ") })
        let m = try #require(line.firstMatch(of: /core (\S+) \(chosen by (\S+); best for this CPU: (\S+)\)/))
        return (String(m.1), String(m.2), String(m.3))
    }

    @Test("without OPENBLAS_CORETYPE the kernels are the best the CPU's feature bits allow; a user's choice is kept")
    func blasKernels() throws {
        let chosen = try blasLine(["OPENBLAS_CORETYPE": nil])
        #expect(chosen.chosenBy == "cpu-features")
        #expect(
            chosen.core.lowercased() == chosen.best.lowercased(), "OpenBLAS runs \(chosen.core), not \(chosen.best)")
        // Prescott (SSE3) runs on every x86-64 CPU: a user who asks for it gets it, whatever the CPU allows.
        let user = try blasLine(["OPENBLAS_CORETYPE": "Prescott"])
        #expect(user.core == "Prescott" && user.chosenBy == "OPENBLAS_CORETYPE")
        #expect(user.best == chosen.best)
    }

    @Test(
        "BLAS is searched host, Debian, scipy-openblas32; LIFELONG_OPENBLAS reorders it; none found is said and warned")
    func blasSources() throws {
        let found = try CLI.run(["--version"], environment: ["LIFELONG_OPENBLAS": nil])
        #expect(found.stdout.contains("BLAS from: Debian libopenblas0 (libopenblas.so.0)"), "\(found.stdout)")
        let asked = try CLI.run(["--version"], environment: ["LIFELONG_OPENBLAS": "none"])
        #expect(
            asked.stdout.contains("BLAS: plain C loop, no OpenBLAS found") && asked.stdout.contains("BLAS from: none"))
        #expect(asked.stderr.isEmpty, "asking for the plain C loop is not warned about: \(asked.stderr)")
        let missing = try CLI.run(["--version"], environment: ["LIFELONG_OPENBLAS": "/nonexistent/libblas.so"])
        #expect(missing.stdout.contains("BLAS from: none"))
        #expect(missing.stdout.contains("last: /nonexistent/libblas.so: cannot open shared object file"))
        #expect(missing.stderr.contains("warning: no OpenBLAS found (searched /nonexistent/libblas.so"))
    }

    @Test("an unknown flag is an error with a non-zero exit code")
    func badFlag() throws {
        let r = try CLI.run(["--no-such-flag"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("no-such-flag"))
    }
}

@Suite("lifelong init-model / encode / append / inspect")
struct EncoderCLITests {
    func folder() -> String { temporaryFolder("cli") }

    @Test(
        "embed-text prints each text's ids and K-layer vector (golden at K = 6); encode reports cached texts"
    )
    func embedText() throws {
        let modelDir = Repository.miniLM
        let golden = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: Repository.golden("minilm.json")))
                as? [String: Any])
        let first = try #require((golden["cases"] as? [[String: Any]])?.first)
        let want = try #require(
            ((first["layers"] as? [String: Any])?["6"] as? [String: Any])?["normalized"] as? [Double])
        let r = try CLI.run(["embed-text", "--layers", "6", "--model-dir", modelDir, "Toy Story (1995)", "a"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == 2)
        let o = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(o["text"] as? String == "Toy Story (1995)")
        #expect(o["ids"] as? [Int] == first["ids"] as? [Int])
        let v = try #require(o["vector"] as? [Double])
        #expect(v.count == 384 && zip(v, want).allSatisfy { abs($0 - $1) <= 1e-5 })
        let bad = try CLI.run(["embed-text", "--layers", "7", "x"])
        #expect(bad.status != 0 && bad.stderr.contains("--layers"))
        let missing = try CLI.run(["embed-text", "--layers", "1", "--model-dir", "/nonexistent-model", "x"])
        #expect(missing.status != 0 && missing.stderr.contains("/nonexistent-model/config.json"))

        // A text bundle: encode twice; the second run finds every text in the store's cache.
        let root = folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let ds = root + "/tiny"
        try FileManager.default.createDirectory(atPath: ds, withIntermediateDirectories: true)
        try "user_id:token\titem_id:token\ttimestamp:float\n1\t1\t10\n1\t2\t11\n2\t3\t12\n".write(
            toFile: ds + "/tiny.inter", atomically: true, encoding: .utf8)
        let catalog =
            "item_id:token\tmovie_title:token_seq\trelease_year:token\n"
            + "1\tToy Story\t1995\n2\tHeat\t1995\n3\tHeat\t1995\n"
        try catalog.write(toFile: ds + "/tiny.item", atomically: true, encoding: .utf8)
        let initModel = try CLI.run([
            "init-model", "--data", ds, "--out", root + "/model", "--d-item", "4", "--d-cat", "2", "--d-text", "3",
            "--text-layers", "2",
        ])
        #expect(initModel.status == 0, "\(initModel.stderr)")
        for expected in ["2 text embeddings computed, 0 found", "0 text embeddings computed, 2 found"] {
            let e = try CLI.run([
                "encode", "--model", root + "/model", "--data", ds, "--store", root + "/store", "--text-model",
                modelDir, "--quiet",
            ])
            #expect(e.status == 0, "\(e.stderr)")
            #expect(e.stdout.contains(expected), "\(e.stdout)")
        }
    }

    @Test("init-model, encode and inspect a RecBole dataset; bad input exits non-zero naming file and line")
    func pipeline() throws {
        let root = folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let ds = root + "/tiny"
        try FileManager.default.createDirectory(atPath: ds, withIntermediateDirectories: true)
        var inter = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
        for u in 1...5 { for i in 1...(u * 3) { inter += "\(u)\t\(i % 7)\t\(i % 5)\t\(1000 + i)\n" } }
        try inter.write(toFile: ds + "/tiny.inter", atomically: true, encoding: .utf8)
        try "item_id:token\tclass:token_seq\n1\tA B\n2\tB\n".write(
            toFile: ds + "/tiny.item", atomically: true, encoding: .utf8)

        let initModel = try CLI.run([
            "init-model", "--data", ds, "--out", root + "/model", "--d-item", "8", "--d-cat", "4", "--window", "4",
        ])
        #expect(initModel.status == 0, "\(initModel.stderr)")
        let encode = try CLI.run([
            "encode", "--model", root + "/model", "--data", ds, "--store", root + "/store", "--quiet",
        ])
        #expect(encode.status == 0, "\(encode.stderr)")
        #expect(encode.stdout.contains("5 users, 45 behaviors, 7 item embeddings computed"))
        let summary = try CLI.run(["inspect", "--store", root + "/store", "--json"])
        #expect(summary.stdout.contains("\"users\":5") && summary.stdout.contains("\"behaviors\":45"))
        let user = try CLI.run(["inspect", "--store", root + "/store", "--user", "5"])
        let object = try JSONSerialization.jsonObject(with: Data(user.stdout.utf8)) as? [String: Any]
        #expect(object?["length"] as? Int == 15)
        #expect((object?["bucket_counts"] as? [[Int]])?.count == 16)
        #expect((object?["window"] as? [Int])?.count == 4)

        // score: one JSON object per candidate, in input order; unknown users and items are scored.
        for mode in ["bse", "online", "full", "short"] {
            let scored = try CLI.run([
                "score", "--model", root + "/model", "--store", root + "/store", "--user", "5",
                "--items", "3,1,unknown", "--mode", mode,
            ])
            #expect(scored.status == 0, "\(scored.stderr)")
            let lines = scored.stdout.split(separator: "\n").map {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
            #expect(lines.map { $0?["item"] as? String } == ["3", "1", "unknown"])
            #expect(lines.allSatisfy { ($0?["p"] as? Double).map { $0 > 0 && $0 < 1 } ?? false })
        }
        let cold = try CLI.run([
            "score", "--model", root + "/model", "--store", root + "/store", "--user", "nobody", "--items", "1",
        ])
        #expect(cold.status == 0 && cold.stdout.hasPrefix("{\"item\":\"1\",\"p\":0."))
        let badMode = try CLI.run([
            "score", "--model", root + "/model", "--store", root + "/store", "--user", "5", "--items", "1", "--mode",
            "fast",
        ])
        #expect(badMode.status != 0 && badMode.stderr.contains("fast"))
        let noStore = try CLI.run([
            "score", "--model", root + "/model", "--store", root + "/nowhere", "--user", "5", "--items", "1",
        ])
        #expect(noStore.status != 0 && noStore.stderr.contains("no store"))

        try "user_id:token\titem_id:token\trating:float\ttimestamp:float\n9\t1\t5\t99\n9\t1\t5\tlater\n".write(
            toFile: ds + "/tiny.inter", atomically: true, encoding: .utf8)
        let bad = try CLI.run([
            "append", "--model", root + "/model", "--data", ds, "--store", root + "/store", "--quiet",
        ])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("tiny.inter:3"))
        let missing = try CLI.run(["inspect", "--store", root + "/nowhere"])
        #expect(missing.status != 0 && missing.stderr.contains("no store"))
    }
}

@Suite("lifelong synth and replay")
struct ReplayCLITests {
    @Test("synth writes the same RecBole files for the same seed; replay refuses a debug build and bad options")
    func synthAndReplay() throws {
        let root = temporaryFolder("cli")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let args = [
            "--users", "4", "--items", "50", "--clusters", "5", "--categories", "2", "--length", "10,40", "--seed", "7",
        ]
        let a = try CLI.run(["synth", "--out", root + "/a"] + args),
            b = try CLI.run(["synth", "--out", root + "/b"] + args)
        #expect(a.status == 0 && b.status == 0, "\(a.stderr)")
        #expect(a.stdout.contains("4 users"))
        let interA = try Data(contentsOf: URL(fileURLWithPath: root + "/a/a.inter")),
            interB = try Data(contentsOf: URL(fileURLWithPath: root + "/b/b.inter"))
        #expect(interA == interB && interA.count > 100)
        #expect(FileManager.default.fileExists(atPath: root + "/a/a.item"))
        let badLength = try CLI.run(["synth", "--out", root + "/c", "--length", "50,10"])
        #expect(badLength.status != 0 && badLength.stderr.contains("--length"))

        #expect(try CLI.run(["init-model", "--data", root + "/a", "--out", root + "/model"]).status == 0)
        let badMode = try CLI.run([
            "replay", "--model", root + "/model", "--data", root + "/a", "--report", root + "/r", "--modes", "bse,fast",
        ])
        #expect(badMode.status != 0 && badMode.stderr.contains("unknown mode 'fast'"))
        // The tests run a debug build, which must not produce timings.
        let debug = try CLI.run(["replay", "--model", root + "/model", "--data", root + "/a", "--report", root + "/r"])
        #expect(debug.status != 0 && debug.stderr.contains("debug build"))
        #expect(!FileManager.default.fileExists(atPath: root + "/r"))
    }
}
