import Dispatch
import Foundation
public import Logging
public import Scorer
import Model
import Store
import Synchronization

/// The one request core both protocols call: validation, the scoring pool, the group-commit writer, the
/// serving deployment and its roll-out, and the metrics. The gRPC and HTTP layers only translate.
public final class Core: Sendable {
    /// A score request, as either protocol carries it.
    public struct ScoreCall: Sendable {
        public var user: String
        public var candidates: [String]
        public var mode: String
        /// Milliseconds from arrival (0: none).
        public var timeoutMs: Double
        public init(user: String, candidates: [String], mode: String = "", timeoutMs: Double = 0) {
            self.user = user
            self.candidates = candidates
            self.mode = mode
            self.timeoutMs = timeoutMs
        }
    }

    /// What `Describe` reports.
    public struct Description: Sendable, Codable, Equatable {
        public var fingerprint, version, model, store: String
        public var d, items, users, shards, maxCandidates, threads, queueCapacity: Int
        public var writable: Bool
    }

    /// The outcome of the last roll-out, for `/readyz` and the log.
    public struct Rollout: Sendable, Codable, Equatable {
        public var ok: Bool
        public var fingerprint: String?
        public var error: String?
    }

    public let configuration: Configuration
    public let pool: ScoringPool
    let metrics = ServiceMetrics()
    let logger: Logger
    let serving: Mutex<Deployment?>
    /// The model folder and the store or manifest the serving deployment was opened from.
    let inUse: Mutex<(model: String, source: Configuration.Source)>
    let lastRollout = Mutex<Rollout?>(nil)
    let rollouts = DispatchQueue(label: "lifelong.rollout")

    /// Opens the configured model and store; a failure here stops the start-up.
    public init(configuration: Configuration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        let metrics = metrics
        pool = ScoringPool(
            threads: configuration.threads, capacity: configuration.queueCapacity,
            maxQueueDelay: configuration.maxQueueDelay, observe: { metrics.pool($0) })
        let first = try Deployment(
            model: configuration.model, source: configuration.source, configuration: configuration)
        serving = Mutex(first)
        inUse = Mutex((configuration.model, configuration.source))
        metrics.serving(fingerprint: first.fingerprint)
    }

    /// The deployment requests start on now.
    func current() throws -> Deployment {
        guard let d = serving.withLock({ $0 }) else { throw ServiceError(.unavailable, "no model is serving") }
        return d
    }

    // MARK: Requests

    /// Probabilities for the call's candidates, in order, and the fingerprint of the model that computed them.
    /// - Parameters:
    ///   - deadline: the transport's own deadline (gRPC's), if any; the earlier of it and the call's
    ///     `timeoutMs` applies.
    ///   - departure: signalled by the transport when the caller stops waiting (gRPC's cancellation).
    public func score(
        _ call: ScoreCall, transport: String, deadline transportDeadline: ContinuousClock.Instant? = nil,
        departure: ScoringPool.Departure? = nil
    ) async throws -> (probabilities: [Float], fingerprint: String) {
        let start = ContinuousClock.now
        var modeLabel = "invalid"  // a label from the caller only once it is known to be a mode
        do {
            let mode = try validate(call)
            modeLabel = mode.rawValue
            var deadline = transportDeadline
            if call.timeoutMs > 0 {
                let own = start + .nanoseconds(Int64(min(call.timeoutMs, 1e9) * 1e6))
                deadline = deadline.map { min($0, own) } ?? own
            }
            let deployment = try current()
            let user = call.user, candidates = call.candidates
            metrics.started()
            defer { metrics.finished() }
            let probabilities = try await pool.run(deadline: deadline, departure: departure) {
                try deployment.scorer(for: user).score(user: user, candidates: candidates, mode: mode)
            }
            metrics.request(
                method: "score", transport: transport, mode: modeLabel, status: "ok",
                duration: ContinuousClock.now - start)
            return (probabilities, deployment.fingerprint)
        } catch {
            let failure = ServiceError(from: error)
            metrics.request(
                method: "score", transport: transport, mode: modeLabel, status: failure.code.rawValue,
                duration: ContinuousClock.now - start)
            throw failure
        }
    }

    /// The call's mode, once every field is known to be usable; the error names the field.
    func validate(_ call: ScoreCall) throws -> Scorer.Mode {
        guard Store.isValidId(call.user) else { throw ServiceError(.invalidArgument, Self.badId("user", call.user)) }
        guard call.candidates.count <= configuration.maxCandidates else {
            throw ServiceError(
                .invalidArgument,
                "field 'candidates': \(call.candidates.count) candidates; at most \(configuration.maxCandidates) "
                    + "per request (--max-candidates)")
        }
        for (k, c) in call.candidates.enumerated() where !Store.isValidId(c) {
            throw ServiceError(.invalidArgument, Self.badId("candidates[\(k)]", c))
        }
        guard call.timeoutMs >= 0, call.timeoutMs.isFinite else {
            throw ServiceError(.invalidArgument, "field 'timeout_ms': \(call.timeoutMs) is not a number of ms ≥ 0")
        }
        if call.mode.isEmpty { return .bse }
        guard let mode = Scorer.Mode(rawValue: call.mode) else {
            let modes = Scorer.Mode.allCases.map(\.rawValue).joined(separator: ", ")
            throw ServiceError(
                .invalidArgument, "field 'mode': unknown mode '\(call.mode.prefix(64))' (one of \(modes))")
        }
        return mode
    }

    static func badId(_ field: String, _ id: String) -> String {
        "field '\(field)': id '\(id.prefix(64))\(id.utf8.count > 64 ? "…" : "")' is empty, contains a NUL byte or "
            + "is longer than \(Store.maxIdBytes) bytes"
    }

    /// Appends `events` through the group-commit writer; their statuses in order, once committed.
    public func append(_ events: [Scorer.Event], transport: String) async throws -> [Scorer.EventStatus] {
        let start = ContinuousClock.now
        do {
            let deployment = try current()
            guard let commits = deployment.commits else {
                throw ServiceError(
                    .failedPrecondition, "the service is read-only: start it with --writable to accept appends")
            }
            let status = try await commits.append(events)
            var refused = 0
            for s in status { if case .refused = s { refused += 1 } }
            metrics.appended(status.count - refused, refused: refused)
            metrics.request(
                method: "append", transport: transport, mode: "", status: "ok", duration: ContinuousClock.now - start)
            return status
        } catch {
            let failure = ServiceError(from: error)
            metrics.request(
                method: "append", transport: transport, mode: "", status: failure.code.rawValue,
                duration: ContinuousClock.now - start)
            throw failure
        }
    }

    /// Checks the bearer token of a write or admin call (`Authorization: Bearer TOKEN`, or gRPC's
    /// `authorization` metadata).
    public func authorize(_ authorization: String?) throws {
        guard let token = configuration.writeToken else { return }
        guard let authorization, authorization.hasPrefix("Bearer "),
            Self.equalInConstantTime(Array(authorization.utf8.dropFirst(7)), Array(token.utf8))
        else {
            throw ServiceError(.unauthenticated, "this call needs the write token: 'authorization: Bearer TOKEN'")
        }
    }

    static func equalInConstantTime(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }

    public func describe() throws -> Description {
        let deployment = try current()
        let counts = try deployment.counts()
        return Description(
            fingerprint: deployment.fingerprint, version: Scorer.version, model: deployment.model.folder,
            store: deployment.path, d: deployment.model.config.d, items: counts.items, users: counts.users,
            shards: deployment.shards.count, maxCandidates: configuration.maxCandidates, threads: pool.threads,
            queueCapacity: pool.capacity, writable: deployment.commits != nil)
    }
}
