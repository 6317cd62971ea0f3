import ArgumentParser
import Foundation
import Model

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

/// `--work-dir`: where a benchmark puts its temporary stores; each run gets its own folder under it.
struct WorkFolder: ParsableArguments {
    @Option(help: "Folder for the temporary stores (a per-run folder under it is removed afterwards).")
    var workDir = NSTemporaryDirectory()

    func run(_ name: String) -> String {
        URL(fileURLWithPath: workDir).appendingPathComponent("lifelong-bench-\(name)-\(getpid())").path
    }
}
