import ArgumentParser
import Foundation

/// Benchmarks report nothing from a debug build: its figures would be meaningless.
func requireReleaseBuild() throws {
    #if DEBUG
    throw ValidationError("lifelong-bench refuses to report from a debug build: run `swift run -c release lifelong-bench …`")
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
