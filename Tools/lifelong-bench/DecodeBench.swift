import ArgumentParser
import Foundation
import Service
import Tensors

/// The score request's body read by the service's one-pass reader beside Foundation's `JSONDecoder`, on the same
/// bodies in one run: the measurement that decides whether the hand-written reader is worth keeping.
struct DecodeBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "HTTP score bodies: the service's one-pass reader against Foundation's JSONDecoder (µs per body)."
    )

    @Option(help: "Candidates per body, comma-separated.") var candidates = "100,1000"
    @Option(help: "Rounds; each times both readers over every body, alternating, and the median is reported.")
    var rounds = 15

    func validate() throws {
        try requireReleaseBuild()
        guard rounds > 0, !sizes.isEmpty, sizes.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("--candidates: positive counts, comma-separated; --rounds > 0")
        }
    }

    var sizes: [Int] { candidates.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    /// What Foundation decodes the body into.
    struct Body: Decodable {
        var user: String
        var candidates: [String]
        var mode: String?
        var timeout_ms: Double?
    }

    func run() throws {
        printMachineHeader()
        print("\n| candidates | body bytes | one-pass reader µs | JSONDecoder µs | JSONDecoder over the reader |")
        print("|---:|---:|---:|---:|---:|")
        var g = Gaussian(seed: 7)
        for b in sizes {
            // 32 bodies of ids as a catalog gives them (6 to 7 digits), the request's other fields set.
            let bodies = (0..<32).map { _ in
                let ids = (0..<b).map { _ in "\"\(100_000 + g.bits() % 3_000_000)\"" }.joined(separator: ",")
                return Array(#"{"user":"u\#(g.bits() % 100_000)","candidates":[\#(ids)],"mode":"bse"}"#.utf8)
            }
            let data = bodies.map { Data($0) }
            let decoder = JSONDecoder()
            var sink = 0
            var reader: [Double] = [], foundation: [Double] = []
            for _ in 0..<rounds {
                reader.append(
                    try time {
                        for body in bodies {
                            sink &+= try body.withUnsafeBytes { try ScoreBody.parse($0) }.candidates.count
                        }
                    } / Double(bodies.count))
                foundation.append(
                    try time { for d in data { sink &+= try decoder.decode(Body.self, from: d).candidates.count } }
                        / Double(bodies.count))
            }
            precondition(sink == 2 * rounds * bodies.count * b)
            let (r, f) = (median(reader), median(foundation))
            print(tableRow("\(b)", "\(bodies[0].count)", fmt(r * 1e6), fmt(f * 1e6), fmt(f / r, 2) + " ×"))
        }
    }
}
