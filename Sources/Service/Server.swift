public import Logging
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Hummingbird
import HummingbirdTLS
import NIOCore
import NIOSSL
import ServiceLifecycle
import Scorer
import Synchronization
import UnixSignals

/// `lifelong serve`: the request core behind gRPC and HTTP, with SIGHUP (and, with a manifest, `_CURRENT`)
/// roll-outs, under swift-service-lifecycle: SIGTERM or SIGINT stops accepting, lets in-flight requests
/// finish, commits the appends waiting, closes the store and returns.
public enum Server {
    /// Serves until SIGTERM/SIGINT. `listening` is called once with the bound ports (a port of 0 in the
    /// configuration is a free one chosen by the system).
    public static func run(
        _ configuration: Configuration, logger: Logger,
        listening: @escaping @Sendable (_ grpc: Int?, _ http: Int?) -> Void
    ) async throws {
        let core = try Core(configuration: configuration, logger: logger)
        defer { core.close() }
        let ports = PortReport(grpc: configuration.grpcPort != nil, http: configuration.httpPort != nil, listening)
        var services: [any Service] = [Reloads(core: core)]
        if let port = configuration.grpcPort {
            services.append(try GRPCService(core: core, port: port, ports: ports))
        }
        if let port = configuration.httpPort {
            let tls = try tlsConfiguration(configuration)
            let app = Application(
                router: HTTPAPI.router(core: core),
                server: try tls.map { try .tls(.http1(), tlsConfiguration: $0) } ?? .http1(),
                configuration: .init(address: .hostname(configuration.host, port: port), serverName: "lifelong"),
                onServerRunning: { channel in ports.set(http: channel.localAddress?.port) },
                logger: logger)
            services.append(app)
        }
        if case .manifest(let manifest) = configuration.source {
            services.append(
                Watcher(watcher: CurrentWatcher(core: core, manifest: manifest), interval: configuration.watchInterval))
        }
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        let fingerprint = try core.current().fingerprint
        logger.info(
            "serving",
            metadata: [
                "fingerprint": "\(fingerprint)", "threads": "\(configuration.threads)",
                "writable": "\(configuration.writable)",
            ])
        try await group.run()
        logger.info("stopped")
    }

    static func tlsConfiguration(_ c: Configuration) throws -> TLSConfiguration? {
        guard let cert = c.tlsCertificate, let key = c.tlsKey else { return nil }
        return TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
    }
}

/// Calls `listening` once every server that is configured has bound its port.
final class PortReport: Sendable {
    private let state: Mutex<(grpc: Int??, http: Int??)>
    private let listening: @Sendable (Int?, Int?) -> Void

    init(grpc: Bool, http: Bool, _ listening: @escaping @Sendable (Int?, Int?) -> Void) {
        state = Mutex((grpc ? nil : .some(nil), http ? nil : .some(nil)))
        self.listening = listening
    }

    func set(grpc: Int?) { update { $0.grpc = .some(grpc) } }
    func set(http: Int?) { update { $0.http = .some(http) } }

    private func update(_ change: (inout (grpc: Int??, http: Int??)) -> Void) {
        let done = state.withLock { s -> (Int?, Int?)? in
            change(&s)
            guard let g = s.grpc, let h = s.http else { return nil }
            s = (.some(nil), .some(nil))  // report once
            return (g, h)
        }
        if let (g, h) = done, g != nil || h != nil { listening(g, h) }
    }
}

/// The gRPC server as a lifecycle service.
struct GRPCService: Service {
    let server: GRPCServer<HTTP2ServerTransport.Posix>
    let transport: HTTP2ServerTransport.Posix
    let ports: PortReport

    init(core: Core, port: Int, ports: PortReport) throws {
        let c = core.configuration
        let security: HTTP2ServerTransport.Posix.TransportSecurity =
            if let cert = c.tlsCertificate, let key = c.tlsKey {
                .tls(certificateChain: [.file(path: cert, format: .pem)], privateKey: .file(path: key, format: .pem))
            } else { .plaintext }
        transport = .http2NIOPosix(
            address: .ipv4(host: c.host, port: port), transportSecurity: security,
            config: .defaults { $0.rpc.maxRequestPayloadSize = c.maxRequestBytes })
        server = GRPCServer(transport: transport, services: [GRPCScorer(core: core), GRPCHealth(core: core)])
        self.ports = ports
    }

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { try await server.serve() }
                let address = try await transport.listeningAddress
                ports.set(grpc: address.ipv4?.port ?? address.ipv6?.port)
            }
        } onGracefulShutdown: {
            server.beginGracefulShutdown()
        }
    }
}

/// SIGHUP rolls out the configured model and store again (`Core.reload`).
struct Reloads: Service {
    let core: Core
    func run() async throws {
        await cancelWhenGracefulShutdown {
            for await _ in await UnixSignalsSequence(trapping: .sighup) { _ = try? await core.reload() }
        }
    }
}

/// The `_CURRENT` watcher as a lifecycle service.
struct Watcher: Service {
    let watcher: CurrentWatcher
    let interval: Double
    func run() async throws { await cancelWhenGracefulShutdown { await watcher.run(interval: interval) } }
}
