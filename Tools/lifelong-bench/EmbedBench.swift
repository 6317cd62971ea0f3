import ArgumentParser
import Foundation
import Synchronization
import LMDB
import Model
import Scorer
import Store
import Tensors

/// The same `bse` request through the Swift API, through the C ABI (`liblifelong_c.so`, loaded with dlopen
/// and called like a C host calls it) and through the Python package, in one run; and the C ABI's
/// requests/s with two threads on one handle over one thread.
struct EmbedBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract:
            "p50 of one bse request through Swift, the C ABI and Python (B = 1000, d = 128, L = 10^4), their ratios, "
            + "and 2-thread over 1-thread requests/s on one C handle.")

    @Option(help: "Sequence length L of the user.") var length = 10_000
    @Option(help: "Candidates per request (B).") var candidates = 1000
    @Option(help: "Item vector width d.") var d = 128
    @Option(help: "Items in the synthetic vocabulary.") var items = 20_000
    @Option(help: "Requests per phase (each of Swift and C runs two phases, interleaved).") var requests = 200
    @Option(help: "liblifelong_c.so (default: next to this executable).") var library: String?
    @Option(help: "Python interpreter with numpy (default: .venv/bin/python of the repository).") var python: String?
    @OptionGroup var work: WorkFolder

    func validate() throws {
        try requireReleaseBuild()
        guard length > 0, candidates > 0, d >= 2, items > 0, requests >= 10 else {
            throw ValidationError("--length, --candidates, --d, --items must be positive and --requests ≥ 10")
        }
    }

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    func run() throws {
        printMachineHeader()
        let libraryPath =
            library
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("liblifelong_c.so").path
        let pythonPath = python ?? Self.repository.appendingPathComponent(".venv/bin/python").path
        let abi = try CLibrary(path: libraryPath)
        let root = work.run("embed")
        defer { try? FileManager.default.removeItem(atPath: root) }
        // Swift scores root/store; the C ABI a byte copy of it (one LMDB environment per file per copy of
        // the library, and the .so carries its own copy of the store layer), Python another.
        let (model, store, itemIds) = try scoringStore(at: root, d: d, items: items, lengths: [length])
        for copy in ["store-c", "store-py"] {
            try FileManager.default.createDirectory(atPath: root + "/" + copy, withIntermediateDirectories: true)
            try store.environment.copy(to: root + "/" + copy)
        }
        let user = "L\(length)"
        var rng = Gaussian(seed: 23)
        let batch = (0..<candidates).map { _ in itemIds[Int(rng.bits() % UInt64(items))] }

        let swift = try Scorer(model: model, store: store)
        var out = [Float](repeating: 0, count: candidates)
        func swiftRequest() throws {
            try out.withUnsafeMutableBufferPointer {
                try swift.score(user: user, candidates: batch, mode: .bse, into: $0)
            }
        }
        let handle = try abi.open(model: root + "/model", store: root + "/store-c")
        defer { abi.close(handle) }
        let cStrings = batch.map { strdup($0)! }
        defer { cStrings.forEach { free($0) } }
        let cItems = cStrings.map { UnsafePointer<CChar>?(UnsafePointer($0)) }
        var cOut = [Float](repeating: 0, count: candidates)
        func cRequest() throws {
            try cItems.withUnsafeBufferPointer { items in
                try cOut.withUnsafeMutableBufferPointer { out in
                    try abi.score(handle, user, items.baseAddress!, candidates, out.baseAddress!)
                }
            }
        }
        try swiftRequest()
        try cRequest()
        let worst = zip(out, cOut).map { abs($0 - $1) }.max() ?? 0
        guard worst <= 1e-6 else { throw ValidationError("C ABI and Swift disagree by \(worst)") }

        // Interleaved phases, so drift of the machine hits both alike.
        var swiftTimes: [Double] = [], cTimes: [Double] = []
        for _ in 0..<2 {
            for _ in 0..<3 { try swiftRequest() }
            for _ in 0..<requests { swiftTimes.append(try time(swiftRequest)) }
            for _ in 0..<3 { try cRequest() }
            for _ in 0..<requests { cTimes.append(try time(cRequest)) }
        }
        let (pythonP50, pythonCallP50) = try pythonRequestP50(
            python: pythonPath, library: libraryPath, model: root + "/model", store: root + "/store-py", user: user,
            batch: batch, folder: root)

        // Two threads on one handle over one thread, through the C ABI.
        let perThread = requests
        let one = try time { for _ in 0..<perThread { try cRequest() } }
        let shared = SharedRequest(handle: handle, items: cItems)  // read-only from both threads
        let two = try twoThreads(abi, shared, user: user, perThread: perThread)
        let scaling = (2 * Double(perThread) / two) / (Double(perThread) / one)

        try report(
            swift: median(swiftTimes), c: median(cTimes), python: pythonP50, pythonCall: pythonCallP50,
            scaling: scaling, d: model.config.d)
    }

    /// Seconds for `perThread` requests on each of two threads at once, on one C handle.
    func twoThreads(_ abi: CLibrary, _ request: SharedRequest, user: String, perThread: Int) throws -> Double {
        let failures = Mutex<Int>(0)
        let two = time {
            DispatchQueue.concurrentPerform(iterations: 2) { [candidates] _ in
                var local = [Float](repeating: 0, count: candidates)
                for _ in 0..<perThread {
                    let ok = request.items.withUnsafeBufferPointer { items in
                        local.withUnsafeMutableBufferPointer { out in
                            (try? abi.score(request.handle, user, items.baseAddress!, candidates, out.baseAddress!))
                                != nil
                        }
                    }
                    if !ok { failures.withLock { $0 += 1 } }
                }
            }
        }
        guard failures.withLock({ $0 }) == 0 else { throw ValidationError("C ABI calls failed in the 2-thread phase") }
        return two
    }

    /// The tables and the JSON line.
    func report(
        swift swiftP50: Double, c cP50: Double, python pythonP50: Double, pythonCall pythonCallP50: Double,
        scaling: Double, d: Int
    ) throws {
        print(
            "One bse request — d = \(d), B = \(candidates), L = \(length); \(2 * requests) requests "
                + "each through Swift and the C ABI (interleaved), \(requests) through Python; 1 BLAS thread")
        print("| path | p50 ms |")
        print("|---|---:|")
        print("| Swift `Scorer.score(into:)` | \(fmt(swiftP50 * 1e3, 3)) |")
        print("| C ABI `lifelong_score` (dlopen) | \(fmt(cP50 * 1e3, 3)) |")
        print("| Python `lifelong.Scorer.score` | \(fmt(pythonP50 * 1e3, 3)) |")
        print("| Python, the C call alone (ids packed once) | \(fmt(pythonCallP50 * 1e3, 3)) |")
        print("")
        print("| ratio | value | goal |")
        print("|---|---:|---|")
        print("| C ABI over Swift (p50) | \(fmt(cP50 / swiftP50, 3)) | ≤ 1.03 |")
        print("| Python over Swift (p50) | \(fmt(pythonP50 / swiftP50, 3)) | ≤ 1.10 |")
        print(
            "| requests/s, 2 threads over 1, one C handle (\(ProcessInfo.processInfo.activeProcessorCount) cores) | "
                + "\(fmt(scaling, 2)) | ≥ 1.7 on 2 cores |")
        let json: [String: Double] = [
            "p50_ms_swift": swiftP50 * 1e3, "p50_ms_c": cP50 * 1e3, "p50_ms_python": pythonP50 * 1e3,
            "p50_ms_python_call": pythonCallP50 * 1e3,
            "c_over_swift": cP50 / swiftP50, "python_over_swift": pythonP50 / swiftP50, "two_thread_scaling": scaling,
        ]
        print(String(decoding: try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]), as: UTF8.self))
    }

    /// Runs `python/benchmarks/score_bench.py` in a child process on the same request.
    func pythonRequestP50(
        python: String, library: String, model: String, store: String, user: String, batch: [String], folder: String
    ) throws -> (whole: Double, call: Double) {
        let itemsFile = folder + "/items.txt"
        try batch.joined(separator: "\n").write(toFile: itemsFile, atomically: true, encoding: .utf8)
        let child = Process()
        child.executableURL = URL(fileURLWithPath: python)
        child.arguments = [
            Self.repository.appendingPathComponent("python/benchmarks/score_bench.py").path, model, store, user,
            itemsFile, "\(2 * requests)",
        ]
        var env = ProcessInfo.processInfo.environment
        env["LIFELONG_LIBRARY"] = library
        child.environment = env
        let pipe = Pipe()
        child.standardOutput = pipe
        do { try child.run() } catch {
            throw ValidationError("cannot run \(python) (\(error)); give --python or run Tools/setup.sh")
        }
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        child.waitUntilExit()
        func figure(_ key: String) -> Double? {
            output.split(separator: "\n").last(where: { $0.hasPrefix(key + " ") }).flatMap {
                Double($0.dropFirst(key.count + 1))
            }
        }
        guard child.terminationStatus == 0, let whole = figure("p50_seconds"), let call = figure("p50_call_seconds")
        else { throw ValidationError("the Python benchmark failed (status \(child.terminationStatus)): \(output)") }
        return (whole, call)
    }
}

/// A C handle and candidate C strings, shared read-only by the threads of the scaling phase.
struct SharedRequest: @unchecked Sendable {
    let handle: OpaquePointer
    let items: [UnsafePointer<CChar>?]
}

/// `liblifelong_c.so` opened with dlopen: the functions a C host calls, as C function pointers.
struct CLibrary: @unchecked Sendable {
    typealias Open =
        @convention(c) (
            UnsafePointer<CChar>?, UnsafePointer<CChar>?, Int32, UnsafeMutablePointer<OpaquePointer?>?
        ) -> Int32
    typealias Close = @convention(c) (OpaquePointer?) -> Void
    typealias Score =
        @convention(c) (
            OpaquePointer?, UnsafePointer<CChar>?, UnsafePointer<UnsafePointer<CChar>?>?, Int, Int32,
            UnsafeMutablePointer<Float>?
        ) -> Int32
    typealias LastError = @convention(c) () -> UnsafePointer<CChar>?

    let openFunction: Open, closeFunction: Close, scoreFunction: Score, lastError: LastError

    init(path: String) throws {
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            throw ValidationError(
                "cannot load \(path): \(String(cString: dlerror())); build it with "
                    + "`swift build -c release --product lifelong_c` or give --library")
        }
        func symbol<T>(_ name: String, as: T.Type) throws -> T {
            guard let s = dlsym(handle, name) else { throw ValidationError("\(path) has no \(name)") }
            return unsafeBitCast(s, to: T.self)
        }
        openFunction = try symbol("lifelong_scorer_open", as: Open.self)
        closeFunction = try symbol("lifelong_scorer_close", as: Close.self)
        scoreFunction = try symbol("lifelong_score", as: Score.self)
        lastError = try symbol("lifelong_last_error", as: LastError.self)
    }

    func check(_ status: Int32) throws {
        guard status == 0 else { throw ValidationError("C ABI status \(status): \(String(cString: lastError()!))") }
    }

    func open(model: String, store: String) throws -> OpaquePointer {
        var handle: OpaquePointer?
        try check(openFunction(model, store, 0, &handle))
        return handle!
    }

    func close(_ handle: OpaquePointer) { closeFunction(handle) }

    func score(
        _ handle: OpaquePointer, _ user: String, _ items: UnsafePointer<UnsafePointer<CChar>?>, _ count: Int,
        _ out: UnsafeMutablePointer<Float>
    ) throws {
        try check(scoreFunction(handle, user, items, count, 0, out))
    }
}
