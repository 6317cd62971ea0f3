import ArgumentParser
import Foundation
import Logging
import Scorer
import Service

@main
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lifelong serve",
        abstract: "Serve a model and its store over gRPC and HTTP/JSON (docs/SERVING.md).",
        discussion: """
            Both protocols share one request core: requests run on --threads scoring threads behind a queue of \
            --queue requests, or --max-queue-delay ms of their work; a request that finds it full is refused \
            at once (HTTP 503 with Retry-After, gRPC RESOURCE_EXHAUSTED). A request still queued when its \
            deadline (gRPC's, or timeout_ms) passes or its caller cancels leaves the queue unrun. Once both \
            ports are bound, one line is printed to stdout: "listening grpc=HOST:PORT http=HOST:PORT". \
            SIGHUP or POST /v1/admin/reload opens the model and the store again beside the serving ones and \
            switches new requests to them (with --manifest, so does a change of _CURRENT beside the manifest); \
            a failed reload keeps the old ones serving. \
            SIGTERM or SIGINT: stop accepting, finish in-flight requests, close the store, exit 0.
            """)

    @Option(help: "The model bundle folder.") var model: String
    @Option(help: "The store folder (or give --manifest).") var store: String?
    @Option(help: "A sharded store's manifest.json (or give --store).") var manifest: String?
    @Option(help: "The address to bind; anything but loopback exposes the service.") var host = "127.0.0.1"
    @Option(help: "The gRPC port (0: a free one).") var grpcPort = 50051
    @Option(help: "The HTTP port (0: a free one).") var httpPort = 8080
    @Flag(help: "Serve HTTP only.") var noGrpc = false
    @Flag(help: "Serve gRPC only.") var noHttp = false
    @Option(help: "Scoring threads (default: the cores).") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Requests waiting for a scoring thread, at most.") var queue = 64
    @Option(
        help: ArgumentHelp(
            "Shed a request when those ahead of it would keep it waiting longer: 'auto' (3 requests' recent time, "
                + "at least 10 ms), a number of ms, or 0 (--queue alone).", valueName: "auto|ms"))
    var maxQueueDelay = "auto"
    @Option(help: "Candidates per score request, at most.") var maxCandidates = 10_000
    @Option(help: "The largest request body or message, in bytes.") var maxRequestBytes = 8 << 20
    @Flag(help: "Accept appends (Append, POST /v1/append); the service is read-only otherwise.") var writable = false
    @Option(help: "A file holding the bearer token that appends and admin calls must carry.") var writeTokenFile:
        String?
    @Flag(help: "Serve a non-loopback --host without --write-token-file: anyone who reaches it may reload the model.")
    var allowNoToken = false
    @Option(
        help: ArgumentHelp(
            "A folder a reload may name folders under (repeatable; default: the parents of the folders served).",
            valueName: "dir"))
    var reloadRoot: [String] = []
    @Option(help: "TLS certificate chain (PEM), with --tls-key.") var tlsCert: String?
    @Option(help: "TLS private key (PEM), with --tls-cert.") var tlsKey: String?
    @Option(help: "Events of concurrent appends committed in one write transaction, at most.") var maxBatch = 10_000
    @Option(help: "With --writable: sync (or full, as for ingest: fsync per commit) or nosync (no fsync).")
    var durability = "sync"
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = "info"

    func validate() throws {
        guard (store == nil) != (manifest == nil) else { throw ValidationError("give one of --store and --manifest") }
        guard threads >= 1, queue >= 0, maxCandidates >= 1, maxRequestBytes >= 1024, maxBatch >= 1 else {
            throw ValidationError(
                "--threads, --max-candidates, --max-batch ≥ 1; --queue ≥ 0; --max-request-bytes ≥ 1024")
        }
        guard maxQueueDelay == "auto" || (Int(maxQueueDelay) ?? -1) >= 0 else {
            throw ValidationError("--max-queue-delay: 'auto' or a whole number of ms ≥ 0, not '\(maxQueueDelay)'")
        }
        for (name, port) in [("--grpc-port", grpcPort), ("--http-port", httpPort)] where !(0...65535).contains(port) {
            throw ValidationError("\(name) must be 0…65535")
        }
        guard !(noGrpc && noHttp) else { throw ValidationError("--no-grpc and --no-http leave nothing to serve") }
        guard (tlsCert == nil) == (tlsKey == nil) else {
            throw ValidationError("give --tls-cert and --tls-key together")
        }
        guard Configuration.isLoopback(host) || writeTokenFile != nil || allowNoToken else {
            throw ValidationError(
                "--host \(host) is not a loopback address and no --write-token-file is given: anyone who reaches "
                    + "the port could reload the model\(writable ? " and append" : ""). Give --write-token-file "
                    + "FILE, or --allow-no-token to serve so anyway")
        }
        guard ["sync", "full", "nosync"].contains(durability) else {
            throw ValidationError("--durability: sync (or full) or nosync, not '\(durability)'")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level: unknown level '\(logLevel)'")
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "lifelong.serve")
        var c = Configuration(model: model, source: store.map { .store($0) } ?? .manifest(manifest ?? ""))
        c.host = host
        c.grpcPort = noGrpc ? nil : grpcPort
        c.httpPort = noHttp ? nil : httpPort
        c.threads = threads
        c.queueCapacity = queue
        if let ms = Int(maxQueueDelay) { c.maxQueueDelay = ms > 0 ? .fixed(.milliseconds(ms)) : .none }
        c.maxCandidates = maxCandidates
        c.maxRequestBytes = maxRequestBytes
        c.writable = writable
        c.tlsCertificate = tlsCert
        c.tlsKey = tlsKey
        c.maxBatch = maxBatch
        c.syncEachCommit = durability != "nosync"
        if !reloadRoot.isEmpty { c.reloadRoots = reloadRoot }
        if let writeTokenFile {
            guard let text = try? String(contentsOfFile: writeTokenFile, encoding: .utf8) else {
                throw ValidationError("--write-token-file \(writeTokenFile): cannot read it")
            }
            let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !token.isEmpty else { throw ValidationError("--write-token-file \(writeTokenFile) is empty") }
            c.writeToken = token
        }
        let host = self.host
        do {
            try await Server.run(c, logger: logger) { grpc, http in
                let parts = [grpc.map { "grpc=\(host):\($0)" }, http.map { "http=\(host):\($0)" }].compactMap { $0 }
                FileHandle.standardOutput.write(Data(("listening " + parts.joined(separator: " ") + "\n").utf8))
            }
        } catch let error as ServiceError {
            throw ValidationError(error.message)
        }
    }
}
