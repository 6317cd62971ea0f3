import Dispatch
import Errors
import Foundation
import Logging
public import Scorer
import Synchronization

extension Core {
    /// Opens `model` with `source` (by default the folders serving now, read again from disk: a folder
    /// replaced or a symlink moved since is what opens) beside the serving deployment, checks their
    /// fingerprints, and switches new requests to them atomically; requests already running finish on the old
    /// one, which closes when the last of them lets go. A failure leaves the old deployment serving, and is
    /// logged and reported by `/readyz`. Roll-outs run one at a time; later ones start from the new folders.
    /// - Returns: the new fingerprint.
    @discardableResult
    public func reload(model: String? = nil, source: Configuration.Source? = nil) async throws -> String {
        let now = inUse.withLock { $0 }
        let (model, source) = (model ?? now.model, source ?? now.source)
        return try await withCheckedThrowingContinuation { reply in
            rollouts.async { [self] in
                let started = Date()
                // The new deployment's opening and first requests are slower; they queue rather than shed.
                pool.holdDelayBound()
                defer { pool.holdDelayBound(until: .now.advanced(by: .seconds(1))) }
                do {
                    let next = try Deployment(model: model, source: source, configuration: configuration)
                    let old = serving.withLock { serving in
                        defer { serving = next }
                        return serving
                    }
                    old?.retire()
                    inUse.withLock { $0 = (model, source) }
                    metrics.serving(fingerprint: next.fingerprint)
                    metrics.reload("ok")
                    lastRollout.withLock { $0 = Rollout(ok: true, fingerprint: next.fingerprint, error: nil) }
                    logger.info(
                        "rolled out",
                        metadata: [
                            "fingerprint": "\(next.fingerprint)", "from": "\(old?.fingerprint ?? "-")",
                            "source": "\(next.path)", "seconds": "\(Date().timeIntervalSince(started))",
                        ])
                    reply.resume(returning: next.fingerprint)
                } catch {
                    // The caller (and /readyz, which anyone may read) learns the kind; the log, the files.
                    let failure = ServiceError(
                        .failedPrecondition,
                        "reload failed (\((error as? ServiceError)?.code.rawValue ?? ErrorKind(of: error).rawValue)), "
                            + "the old model keeps serving; the service's log "
                            + "names the files")
                    metrics.reload("failed")
                    lastRollout.withLock { $0 = Rollout(ok: false, fingerprint: nil, error: failure.message) }
                    logger.error(
                        "reload failed",
                        metadata: ["error": "\(error)", "model": "\(model)", "source": "\(source)"])
                    reply.resume(throwing: failure)
                }
            }
        }
    }

    /// Refuses (`permissionDenied`, without echoing them) folders a reload call names outside the reload
    /// roots, before anything under them is opened.
    func checkReloadFolders(model: String?, store: String?, manifest: String?) throws {
        for (field, path) in [("model", model), ("store", store), ("manifest", manifest)] {
            guard let path else { continue }
            guard !path.isEmpty else { throw ServiceError(.invalidArgument, "field '\(field)' is empty") }
            guard !configuration.mayReload(path) else { continue }
            logger.warning("reload refused: outside the reload roots", metadata: ["\(field)": "\(path)"])
            throw ServiceError(
                .permissionDenied,
                "field '\(field)': a reload may name only folders under the service's reload roots "
                    + "(--reload-root; by default the parents of the folders served)")
        }
    }

    /// Whether requests are answered, and what the last roll-out did (`GET /readyz`).
    public func readiness() -> (ready: Bool, fingerprint: String?, lastRollout: Rollout?) {
        let d = serving.withLock { $0 }
        return (d != nil, d?.fingerprint, lastRollout.withLock { $0 })
    }

    /// Stops serving: queued requests finish, appends waiting are committed, the deployment is let go.
    public func close() {
        pool.close()
        let last = serving.withLock { serving in
            defer { serving = nil }
            return serving
        }
        last?.retire()
    }
}

extension Deployment {
    /// Takes no more appends once those waiting are committed (the writer's thread ends).
    func retire() { commits?.close() }
}

/// With `--manifest`: watches `_CURRENT` beside the manifest (the file a Spark run writes last, naming its
/// manifest) and rolls out the manifest it names whenever it is written again (its contents or its time).
struct CurrentWatcher: Sendable {
    let core: Core
    let folder: String

    init(core: Core, manifest: String) {
        self.core = core
        folder = (manifest as NSString).deletingLastPathComponent
    }

    /// The manifest `_CURRENT` names now and when it was written (nil while it is absent or unreadable).
    func named() -> (manifest: String, written: Date)? {
        let path = folder + "/_CURRENT"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let written = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
        else { return nil }
        let name = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty else { return nil }
        return (name.hasPrefix("/") ? name : folder + "/" + name, written)
    }

    /// Looks every `interval` seconds until the task is cancelled.
    func run(interval: Double) async {
        var seen = named()
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(Int(interval * 1000)))
            guard let now = named(), now.manifest != seen?.manifest || now.written != seen?.written else { continue }
            seen = now
            _ = try? await core.reload(source: .manifest(now.manifest))
        }
    }
}
