import Foundation
import Testing

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

    static func run(_ arguments: [String]) throws -> Result {
        let p = Process()
        p.executableURL = binary
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
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

    @Test("--version prints the version and exits 0")
    func version() throws {
        let r = try CLI.run(["--version"])
        #expect(r.status == 0)
        #expect(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").count == 3)
    }

    @Test("an unknown flag is an error with a non-zero exit code")
    func badFlag() throws {
        let r = try CLI.run(["--no-such-flag"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("no-such-flag"))
    }
}
