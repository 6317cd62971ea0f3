import Foundation
import TestSupport

/// A small synthetic model and store made with the `lifelong` binary of this build, and `lifelong-serve`
/// started on free loopback ports.
struct Fixture {
    static var bin: URL { URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent() }

    let root: String
    var model: String { root + "/model" }
    var store: String { root + "/store" }

    init() throws {
        root = temporaryFolder("service", create: true)
        try Self.lifelong([
            "synth", "--out", root + "/syn", "--users", "60", "--items", "300", "--length", "20,200", "--seed", "4",
        ])
        try Self.lifelong(["init-model", "--data", root + "/syn", "--out", model, "--feedback", "--seed", "2"])
        try Self.lifelong(["encode", "--model", model, "--data", root + "/syn", "--store", store, "--quiet"])
    }

    /// Runs the CLI; a non-zero exit throws its stderr.
    @discardableResult
    static func lifelong(_ arguments: [String]) throws -> String {
        let p = Process()
        p.executableURL = bin.appendingPathComponent("lifelong")
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: String(decoding: e, as: UTF8.self)])
        }
        return String(decoding: o, as: UTF8.self)
    }

    func copyStore() throws -> String {
        let copy = temporaryFolder("service-store", create: true)
        try FileManager.default.copyItem(atPath: store + "/data.mdb", toPath: copy + "/data.mdb")
        return copy
    }
}

/// `lifelong-serve ARGS --grpc-port 0 --http-port 0`, until `stop()` (SIGTERM) or deinit.
final class RunningService {
    let process = Process()
    let grpcPort: Int
    let httpPort: Int

    init(_ arguments: [String]) throws {
        process.executableURL = Fixture.bin.appendingPathComponent("lifelong-serve")
        process.arguments = arguments + ["--grpc-port", "0", "--http-port", "0", "--log-level", "warning"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        // The first line: "listening grpc=127.0.0.1:P http=127.0.0.1:Q".
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let ports = String(decoding: line, as: UTF8.self).split(separator: " ").compactMap { part in
            part.split(separator: ":").last.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        guard ports.count == 2 else {
            process.terminate()
            throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "lifelong-serve did not start"])
        }
        (grpcPort, httpPort) = (ports[0], ports[1])
    }

    /// SIGTERM, then the exit status.
    func stop() -> Int32 {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit { _ = stop() }
}
