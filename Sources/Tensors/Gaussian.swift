import Foundation

/// N(0, 1) floats from SplitMix64 + Box–Muller: the project's one seeded generator for weights.
public struct Gaussian: RandomNumberGenerator, Sendable {
    var state: UInt64
    var spare: Float?
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 { bits() }

    public mutating func bits() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Fisher–Yates with this generator: the same seed gives the same order on every toolchain (the standard
    /// library's `shuffle(using:)` does not promise its algorithm).
    public mutating func shuffle<T>(_ array: inout [T]) {
        for i in stride(from: array.count - 1, to: 0, by: -1) { array.swapAt(i, Int(bits() % UInt64(i + 1))) }
    }

    /// Uniform in [0, 1).
    public mutating func uniform() -> Float { Float(bits() >> 40) / Float(1 << 24) }

    /// One N(0, 1) draw.
    public mutating func normal() -> Float {
        if let s = spare { spare = nil; return s }
        let u1 = max(Double(bits() >> 11) / Double(1 << 53), 1e-300), u2 = Double(bits() >> 11) / Double(1 << 53)
        let r = (-2 * log(u1)).squareRoot()
        spare = Float(r * sin(2 * .pi * u2))
        return Float(r * cos(2 * .pi * u2))
    }
}
