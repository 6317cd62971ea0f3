import ArgumentParser
import BehaviorLog
import Foundation
import LMDB
import Model
import Offline
import Store
import Tensors

/// Benchmarks report nothing from a debug build: its figures would be meaningless.
func requireReleaseBuild() throws {
    #if DEBUG
    throw ValidationError(
        "lifelong-bench refuses to report from a debug build: run `swift run -c release lifelong-bench …`")
    #endif
}

/// Wall-clock seconds of `body` (monotonic clock).
func time(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func fmt(_ x: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", x) }

/// The `p` quantile of sorted values (nan for none), the one rule every benchmark's p50/p99 uses.
func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted.isEmpty ? .nan : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

/// `users` users "u0"… of `length` behaviors each, items drawn uniformly from `itemIds`, timestamps 0 ..< length.
func uniformLog(users: Int, length: Int, itemIds: [String], seed: UInt64) -> [Behavior] {
    var rng = Gaussian(seed: seed)
    var log: [Behavior] = []
    log.reserveCapacity(users * length)
    for u in 0..<users {
        for t in 0..<length {
            log.append(
                Behavior(user: "u\(u)", item: itemIds[Int(rng.bits() % UInt64(itemIds.count))], timestamp: Double(t)))
        }
    }
    return log
}

/// One Markdown table row of the given cells.
func tableRow(_ cells: String...) -> String { "| " + cells.joined(separator: " | ") + " |" }

/// A random v1 bundle for the benchmarks: `items` items "i0"… in 50 categories "c0"…, d = d_item + d_cat
/// with d_cat = d/4, other shapes at their defaults. Returns the bundle and the ids.
func syntheticBundle(
    at folder: String, d: Int, items: Int, seed: UInt64
) throws -> (model: ModelBundle, items: [String], categories: [String]) {
    let itemIds = (0..<items).map { "i\($0)" }
    let categories = (0..<50).map { "c\($0)" }
    var shape = ModelBundle.Shape()
    shape.dCat = max(1, d / 4)
    shape.dItem = d - shape.dCat
    try ModelBundle.writeRandom(to: folder, items: itemIds, categories: categories, shape: shape, seed: seed)
    return (try ModelBundle(folder: folder), itemIds, categories)
}

/// The scoring benchmarks' store: a `syntheticBundle` (seed 3) in `root/model` and, in `root/store`, one user
/// "L<length>" per length with that many behaviors drawn uniformly from the items (seed 17).
func scoringStore(
    at root: String, d: Int, items: Int, lengths: [Int]
) throws -> (model: ModelBundle, store: Store, items: [String]) {
    let (model, itemIds, categories) = try syntheticBundle(at: root + "/model", d: d, items: items, seed: 3)
    var rng = Gaussian(seed: 17)
    var log: [Behavior] = []
    for length in lengths {
        for t in 0..<length {
            log.append(
                Behavior(user: "L\(length)", item: itemIds[Int(rng.bits() % UInt64(items))], timestamp: Double(t)))
        }
    }
    let catalog = Dictionary(
        uniqueKeysWithValues: itemIds.enumerated().map { ($1, ItemInfo(category: categories[$0 % categories.count])) })
    let store = try Store(path: root + "/store", durability: .noSync)
    _ = try BehaviorEncoder(model: model, store: store).encode(Dataset(behaviors: log, items: catalog))
    return (model, store, itemIds)
}

/// `--work-dir`: where a benchmark puts its temporary stores; each run gets its own folder under it.
struct WorkFolder: ParsableArguments {
    @Option(help: "Folder for the temporary stores (a per-run folder under it is removed afterwards).")
    var workDir = NSTemporaryDirectory()

    func run(_ name: String) -> String {
        URL(fileURLWithPath: workDir).appendingPathComponent("lifelong-bench-\(name)-\(getpid())").path
    }
}

/// The CPU (`/proc/cpuinfo`'s model name) and the BLAS in use: the first line of every benchmark's output.
func printMachineHeader() {
    let cpu =
        (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
        .split(separator: "\n").first { $0.hasPrefix("model name") }?
        .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
    print("# CPU: \(cpu), \(ProcessInfo.processInfo.activeProcessorCount) cores; BLAS: \(BLAS.info)")
}

/// Single-thread sgemm FLOP/s with the kernels loaded in this process: a 1024³ product, best of 5.
func loadedSgemmPeak() -> Double {
    BLAS.useOneThread()
    let n = 1024
    var g = Gaussian(seed: 1)
    let a = (0..<(n * n)).map { _ in g.normal() }, b = (0..<(n * n)).map { _ in g.normal() }
    var cm = [Float](repeating: 0, count: n * n)
    var best = Double.infinity
    for _ in 0..<5 {
        best = min(
            best,
            time {
                cm.withUnsafeMutableBufferPointer {
                    BLAS.gemm(n, n, n, a: a, b: b, transposeB: false, into: $0.baseAddress!)
                }
            }
        )
    }
    return 2 * Double(n * n * n) / best
}

/// Single-thread sgemm FLOP/s with the best kernels this CPU's feature bits allow, whatever this process
/// loaded: measured here when they are the ones in use, otherwise by `lifelong-bench sgemm-peak` in a child
/// process with `OPENBLAS_CORETYPE` set to them. A wrong kernel then shows up as a low efficiency.
func bestSgemmPeak() throws -> Double {
    let info = BLAS.info
    if info.isBest { return loadedSgemmPeak() }
    let child = Process()
    child.executableURL = URL(fileURLWithPath: "/proc/self/exe")
    child.arguments = ["sgemm-peak"]
    var env = ProcessInfo.processInfo.environment
    env["OPENBLAS_CORETYPE"] = info.bestCore
    child.environment = env
    let pipe = Pipe()
    child.standardOutput = pipe
    try child.run()
    let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    child.waitUntilExit()
    guard let line = out.split(separator: "\n").last(where: { $0.hasPrefix("flops_per_second ") }),
        let value = Double(line.dropFirst("flops_per_second ".count))
    else { throw ValidationError("lifelong-bench sgemm-peak printed no figure: \(out)") }
    return value
}

/// `lifelong-bench sgemm-peak`: the single-thread sgemm peak of the kernels this process loads.
struct SgemmPeak: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sgemm-peak",
        abstract: "Single-thread sgemm GFLOP/s (1024³, best of 5) with the BLAS kernels this process loads.")

    func run() throws {
        try requireReleaseBuild()
        printMachineHeader()
        let peak = loadedSgemmPeak()
        print("sgemm 1024³, 1 thread: \(fmt(peak / 1e9, 1)) GFLOP/s")
        print("flops_per_second \(peak)")
    }
}
