// The functions of lifelong.h. The compiler checks each signature against the header (`@c @implementation`).
// Every argument is checked before the Swift API sees it; every error becomes a status and a message.
public import CLifelong
import Foundation
import Model
import Offline
import Scorer
import Store
import Tensors

nonisolated(unsafe) private let versionString: UnsafeMutablePointer<CChar> = strdup(Scorer.version)!

@c @implementation
public func lifelong_version() -> UnsafePointer<CChar>? { UnsafePointer(versionString) }

@c @implementation
public func lifelong_abi_version() -> Int32 { LIFELONG_ABI_VERSION }

@c @implementation
public func lifelong_scorer_open(
    _ modelDir: UnsafePointer<CChar>?, _ storeDir: UnsafePointer<CChar>?, _ writable: Int32,
    _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> lifelong_status {
    open(modelDir, storeDir, "store_dir", into: out) { model, store in
        try StoreScorers(modelFolder: model, source: .store(store), writable: writable != 0)
    }
}

@c @implementation
public func lifelong_scorer_open_manifest(
    _ modelDir: UnsafePointer<CChar>?, _ manifestPath: UnsafePointer<CChar>?, _ writable: Int32,
    _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> lifelong_status {
    open(modelDir, manifestPath, "manifest", into: out) { model, manifest in
        guard FileManager.default.fileExists(atPath: manifest) else {
            throw CallFailure(status: LIFELONG_NOT_FOUND, message: "manifest \(manifest): no such file")
        }
        return try StoreScorers(modelFolder: model, source: .manifest(manifest), writable: writable != 0)
    }
}

/// Both opens: `*out` is NULL unless the scorer opened; the two paths are checked UTF-8.
private func open(
    _ modelDir: UnsafePointer<CChar>?, _ where_: UnsafePointer<CChar>?, _ name: String,
    into out: UnsafeMutablePointer<OpaquePointer?>?, _ make: (String, String) throws -> StoreScorers
) -> lifelong_status {
    guarded {
        guard let out else { throw CallFailure.invalidArgument("out is NULL") }
        out.pointee = nil
        let scorer = try make(try text(modelDir, "model_dir"), try text(where_, name))
        out.pointee = Handles.shared.insert(scorer)
    }
}

@c @implementation
public func lifelong_scorer_close(_ scorer: OpaquePointer?) {
    _ = Handles.shared.remove(scorer)  // released here, outside the table's lock
}

@c @implementation
public func lifelong_score(
    _ scorer: OpaquePointer?, _ user: UnsafePointer<CChar>?, _ items: UnsafePointer<UnsafePointer<CChar>?>?,
    _ count: Int, _ mode: lifelong_mode, _ out: UnsafeMutablePointer<Float>?
) -> lifelong_status {
    guarded { try Request(scorer, user, count, mode, out).score(try strings(items, count), into: out) }
}

@c @implementation
public func lifelong_score_packed(
    _ scorer: OpaquePointer?, _ user: UnsafePointer<CChar>?, _ ids: UnsafePointer<CChar>?,
    _ offsets: UnsafePointer<Int>?, _ count: Int, _ mode: lifelong_mode, _ out: UnsafeMutablePointer<Float>?
) -> lifelong_status {
    guarded { try Request(scorer, user, count, mode, out).score(try packedStrings(ids, offsets, count), into: out) }
}

@c @implementation
public func lifelong_scorer_dimension(_ scorer: OpaquePointer?, _ out: UnsafeMutablePointer<Int>?) -> lifelong_status {
    guarded {
        let scorer = try Handles.shared.scorer(scorer)
        guard let out else { throw CallFailure.invalidArgument("out is NULL") }
        out.pointee = scorer.model.config.d
    }
}

@c @implementation
public func lifelong_long_term_interest(
    _ scorer: OpaquePointer?, _ user: UnsafePointer<CChar>?, _ items: UnsafePointer<UnsafePointer<CChar>?>?,
    _ count: Int, _ mode: lifelong_mode, _ out: UnsafeMutablePointer<Float>?
) -> lifelong_status {
    guarded {
        let request = try Request(scorer, user, count, mode, out)
        let candidates = try strings(items, count)
        try request.scorer.longTermInterest(
            user: request.user, candidates: candidates, mode: request.mode,
            into: UnsafeMutableBufferPointer(start: out, count: count * request.scorer.model.config.d))
    }
}

/// What runs the matrix products, as `describe` reports it.
private func blasDescription() -> [String: String] {
    let blas = BLAS.info
    return [
        "library": blas.library, "core": blas.core, "best_core": blas.bestCore, "chosen_by": blas.chosenBy,
        "source": blas.source,
    ]
}

@c @implementation
public func lifelong_scorer_describe(
    _ scorer: OpaquePointer?, _ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int,
    _ needed: UnsafeMutablePointer<Int>?
) -> lifelong_status {
    guarded {
        let open = try Handles.shared.scorer(scorer)
        var users = 0, items = 0
        for shard in open.shards {
            let counts = try shard.store.read { try shard.store.counts($0) }
            users += counts.users
            items = max(items, counts.items)  // every shard holds the whole catalog
        }
        let s = open.shards[0]
        let object: [String: Any] = [
            "version": Scorer.version, "model": s.model.folder, open.isSharded ? "manifest" : "store": open.path,
            "shards": open.shards.count, "fingerprint": s.model.fingerprintHex, "d": s.model.config.d,
            "writable": s.isWritable,
            "model_format": s.model.config.feedback ? ModelBundle.feedbackFormat : ModelBundle.format,
            "users": users, "items": items, "blas": blasDescription(),
        ]
        let json = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        let size = json.count + 1
        needed?.pointee = size
        if buffer == nil && capacity == 0 { return }
        guard let buffer else { throw CallFailure.invalidArgument("buf is NULL but capacity is \(capacity)") }
        guard capacity >= size else {
            throw CallFailure.invalidArgument("buf holds \(capacity) bytes; the description needs \(size)")
        }
        json.withUnsafeBytes { raw in
            UnsafeMutableRawPointer(buffer).copyMemory(from: raw.baseAddress!, byteCount: json.count)
        }
        buffer[json.count] = 0
    }
}

@c @implementation
public func lifelong_append(
    _ scorer: OpaquePointer?, _ user: UnsafePointer<CChar>?, _ item: UnsafePointer<CChar>?, _ timestamp: Double,
    _ label: Int32
) -> lifelong_status {
    guarded {
        let open = try Handles.shared.scorer(scorer)
        let user = try text(user, "user")
        let s = open.scorer(for: user)
        let item = try text(item, "item")
        guard timestamp.isFinite else { throw CallFailure.invalidArgument("timestamp \(timestamp) is not finite") }
        guard let clicked = click(label) else {
            throw CallFailure.invalidArgument("label is \(label); expected -1 (unknown), 0 or 1")
        }
        try s.append(user: user, item: item, timestamp: timestamp, label: clicked)
    }
}

@c @implementation
public func lifelong_append_batch(
    _ scorer: OpaquePointer?, _ n: Int, _ users: UnsafePointer<UnsafePointer<CChar>?>?,
    _ items: UnsafePointer<UnsafePointer<CChar>?>?, _ timestamps: UnsafePointer<Double>?,
    _ labels: UnsafePointer<Int32>?, _ outStatus: UnsafeMutablePointer<lifelong_status>?
) -> lifelong_status {
    guarded {
        let open = try Handles.shared.scorer(scorer)
        guard n >= 0 else { throw CallFailure.invalidArgument("n is \(n)") }
        guard n == 0 || (users != nil && items != nil && timestamps != nil) else {
            throw CallFailure.invalidArgument("users, items or timestamps is NULL with n = \(n)")
        }
        // Each behavior's arguments checked alone: a bad one is refused in its slot, the others go on.
        var status = [lifelong_status](repeating: LIFELONG_OK, count: n)
        var events: [Scorer.Event] = [], slots: [Int] = []
        for i in 0..<n {
            let user = users![i].flatMap { String(validatingCString: $0) }
            let item = items![i].flatMap { String(validatingCString: $0) }
            guard let user, let item, timestamps![i].isFinite, let clicked = click(labels?[i] ?? -1) else {
                status[i] = LIFELONG_INVALID_ARGUMENT
                continue
            }
            events.append(.init(user: user, item: item, timestamp: timestamps![i], label: clicked))
            slots.append(i)
        }
        let results = try open.append(events: events)
        for (slot, result) in zip(slots, results) {
            if case .refused = result { status[slot] = LIFELONG_INVALID_ARGUMENT }
        }
        if let outStatus { for i in 0..<n { outStatus[i] = status[i] } }
    }
}

// MARK: Arguments

/// A C label (-1 unknown, 0, 1) as the click; nil for any other value.
private func click(_ label: Int32) -> Bool?? {
    switch label {
    case -1: .some(nil)
    case 0: false
    case 1: true
    default: nil
    }
}

/// The checked arguments every scoring call shares.
private struct Request {
    let scorer: Scorer
    let user: String
    let mode: Scorer.Mode

    init(
        _ handle: OpaquePointer?, _ user: UnsafePointer<CChar>?, _ count: Int, _ mode: lifelong_mode,
        _ out: UnsafeMutablePointer<Float>?
    ) throws(CallFailure) {
        let open = try Handles.shared.scorer(handle)
        self.user = try text(user, "user")
        scorer = open.scorer(for: self.user)
        switch mode {
        case LIFELONG_MODE_BSE: self.mode = .bse
        case LIFELONG_MODE_ONLINE: self.mode = .online
        case LIFELONG_MODE_FULL: self.mode = .full
        case LIFELONG_MODE_SHORT: self.mode = .short
        default:
            throw .invalidArgument(
                "mode is \(Int32(bitPattern: mode.rawValue)); expected LIFELONG_MODE_BSE (0), _ONLINE (1), "
                    + "_FULL (2) or _SHORT (3)")
        }
        guard count >= 0, count <= Int(LIFELONG_MAX_CANDIDATES) else {
            throw .invalidArgument("n_items is \(UInt(bitPattern: count)); at most \(LIFELONG_MAX_CANDIDATES)")
        }
        if count > 0, out == nil { throw .invalidArgument("out is NULL") }
    }

    /// The probabilities of `candidates` (already checked) into `out`.
    func score(_ candidates: [String], into out: UnsafeMutablePointer<Float>?) throws {
        try scorer.score(
            user: user, candidates: candidates, mode: mode,
            into: UnsafeMutableBufferPointer(start: out, count: candidates.count))
    }
}

/// A NUL-terminated UTF-8 argument.
private func text(_ pointer: UnsafePointer<CChar>?, _ name: String) throws(CallFailure) -> String {
    guard let pointer else { throw .invalidArgument("\(name) is NULL") }
    guard let s = String(validatingCString: pointer) else { throw .invalidArgument("\(name) is not valid UTF-8") }
    return s
}

private func strings(_ items: UnsafePointer<UnsafePointer<CChar>?>?, _ count: Int) throws(CallFailure) -> [String] {
    guard count > 0 else { return [] }
    guard let items else { throw .invalidArgument("items is NULL") }
    var out: [String] = []
    out.reserveCapacity(count)
    for i in 0..<count {
        guard let p = items[i] else { throw .invalidArgument("items[\(i)] is NULL") }
        guard let s = String(validatingCString: p) else { throw .invalidArgument("items[\(i)] is not valid UTF-8") }
        out.append(s)
    }
    return out
}

private func packedStrings(
    _ ids: UnsafePointer<CChar>?, _ offsets: UnsafePointer<Int>?, _ count: Int
) throws(CallFailure) -> [String] {
    guard count > 0 else { return [] }
    guard let offsets else { throw .invalidArgument("offsets is NULL") }
    guard offsets[0] >= 0 else { throw .invalidArgument("offsets[0] is negative") }
    for i in 0..<count where offsets[i + 1] < offsets[i] {
        throw .invalidArgument("offsets[\(i + 1)] = \(offsets[i + 1]) is less than offsets[\(i)] = \(offsets[i])")
    }
    if offsets[count] > offsets[0], ids == nil { throw .invalidArgument("ids is NULL") }
    let base = UnsafeRawPointer(ids ?? UnsafePointer(bitPattern: 1)!)  // never read when every id is empty
    var out: [String] = []
    out.reserveCapacity(count)
    for i in 0..<count {
        let start = offsets[i], end = offsets[i + 1]
        let bytes = UnsafeRawBufferPointer(start: base + start, count: end - start)
        guard let s = String(validating: bytes, as: UTF8.self) else {
            throw .invalidArgument("id \(i) (bytes \(start)..<\(end)) is not valid UTF-8")
        }
        out.append(s)
    }
    return out
}
