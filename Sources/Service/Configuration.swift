import Foundation
public import Scorer

/// Everything `lifelong serve` is started with (docs/SERVING.md, "Flags").
public struct Configuration: Sendable {
    /// Where the user state comes from: a store, or a shard manifest (a change of `_CURRENT` beside it rolls
    /// out the manifest it names).
    public typealias Source = StoreScorers.Source

    public var model: String
    public var source: Source
    public var host = "127.0.0.1"
    /// 0: any free port (the one bound is printed at start-up); nil: no server for that protocol.
    public var grpcPort: Int? = 50051
    public var httpPort: Int? = 8080
    /// Scoring threads; requests never run on the event loops.
    public var threads = 2
    /// Requests waiting for a scoring thread, at most; beyond it a request is shed at once.
    public var queueCapacity = 64
    /// Beyond `2 × threads` waiting, a request is shed at once when those ahead of it would keep it longer
    /// than this (their count times the recent mean request time, over the threads).
    public var maxQueueDelay = ScoringPool.QueueDelay.requests(3, floor: .milliseconds(10))
    public var maxCandidates = 10_000
    /// The largest request body (HTTP) or message (gRPC) accepted.
    public var maxRequestBytes = 8 << 20
    public var writable = false
    /// The bearer token `Append` and the admin routes need (nil: none needed).
    public var writeToken: String?
    /// PEM files; both or neither.
    public var tlsCertificate: String?
    public var tlsKey: String?
    /// With `writable`: fsync every commit (a committed append survives a power loss), or not (`--durability
    /// nosync`: a power loss may lose the last commits; a process crash loses nothing).
    public var syncEachCommit = true
    /// Events of concurrent appends committed in one write transaction, at most.
    public var maxBatch = 10_000
    /// Seconds between looks at the manifest's `_CURRENT` (with `.manifest`).
    public var watchInterval = 1.0
    /// The folders a reload call may name folders under: the parents of the model folder and of the store
    /// folder (or of the manifest's folder) unless set.
    public var reloadRoots: [String]

    public init(model: String, source: Source) {
        self.model = model
        self.source = source
        let served =
            switch source {
            case .store(let store): store
            case .manifest(let manifest): (manifest as NSString).deletingLastPathComponent
            }
        reloadRoots = [model, served].map { ((Self.resolved($0) ?? $0) as NSString).deletingLastPathComponent }
    }

    /// Whether `host` is a loopback address (the service is then reachable from this machine only).
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// `path` absolute, with symbolic links, `.` and `..` resolved (`realpath`); for a path that does not
    /// exist, its existing parent resolved and the rest appended, or nil when the rest has a `..` (which only
    /// the file system could resolve).
    static func resolved(_ path: String) -> String? {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        if let real = realpath(absolute, nil) {
            defer { free(real) }
            return String(cString: real)
        }
        let parent = (absolute as NSString).deletingLastPathComponent
        let last = (absolute as NSString).lastPathComponent
        guard parent != absolute, last != "..", last != ".", let base = resolved(parent) else { return nil }
        return (base == "/" ? "" : base) + "/" + last
    }

    /// Whether `path` is one of `reloadRoots` or under one.
    func mayReload(_ path: String) -> Bool {
        guard let target = Self.resolved(path) else { return false }
        return reloadRoots.contains { root in
            guard let root = Self.resolved(root) else { return false }
            return target == root || target.hasPrefix(root == "/" ? "/" : root + "/")
        }
    }
}
