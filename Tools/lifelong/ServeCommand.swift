import ArgumentParser
import Foundation

/// `lifelong serve …` runs the `lifelong-serve` executable beside this one with the same arguments: the
/// service links NIO and gRPC, which the CLI (and the wheel that carries it) does without.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a model and its store over gRPC and HTTP/JSON (runs lifelong-serve; docs/SERVING.md).",
        discussion: "Every argument goes to lifelong-serve: `lifelong serve --help` prints its flags.")

    @Argument(parsing: .allUnrecognized, help: "lifelong-serve's arguments.") var arguments: [String] = []

    func run() throws { try Self.exec(arguments) }

    /// Replaces this process with lifelong-serve; returns only by throwing.
    static func exec(_ arguments: [String]) throws {
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let server = me.deletingLastPathComponent().appendingPathComponent("lifelong-serve").path
        guard FileManager.default.isExecutableFile(atPath: server) else {
            throw ValidationError(
                "\(server) is not there: build it (`swift build -c release --product lifelong-serve`) beside lifelong")
        }
        let argv = [server] + arguments
        let cArgs = argv.map { strdup($0) } + [nil]
        execv(server, cArgs)
        throw ValidationError("cannot run \(server): \(String(cString: strerror(errno)))")
    }
}
