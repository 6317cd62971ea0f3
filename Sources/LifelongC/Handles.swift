import Model
import Scorer
import Store
import Synchronization

/// The open scorers behind the C handles.
///
/// A handle is not an address but a slot number and a generation packed into a pointer-sized value, so a
/// closed, reused or made-up handle is recognised and refused instead of being dereferenced. Looking one up
/// takes a lock for a few instructions; the scorer it returns is retained for the call, so closing a handle
/// while another thread scores on it lets that call finish before the scorer is released.
final class Handles: Sendable {
    private struct Slot {
        var generation: UInt32
        var scorer: StoreScorers?
    }

    private struct Table {
        var slots: [Slot] = []
        var free: [Int] = []
    }

    private let table = Mutex(Table())

    static let shared = Handles()

    /// Registers `scorer` and returns its new handle (never NULL).
    func insert(_ scorer: StoreScorers) -> OpaquePointer {
        table.withLock { t in
            let index: Int
            if let reused = t.free.popLast() {
                index = reused
            } else {
                index = t.slots.count
                t.slots.append(Slot(generation: 0, scorer: nil))
            }
            t.slots[index].generation &+= 1
            t.slots[index].scorer = scorer
            return Self.handle(index: index, generation: t.slots[index].generation)
        }
    }

    /// The scorer of an open handle.
    func scorer(_ handle: OpaquePointer?) throws(CallFailure) -> StoreScorers {
        guard let (index, generation) = Self.decode(handle) else { throw Self.notAHandle(handle) }
        let found = table.withLock { t -> StoreScorers? in
            guard index < t.slots.count, t.slots[index].generation == generation else { return nil }
            return t.slots[index].scorer
        }
        guard let found else { throw Self.notAHandle(handle) }
        return found
    }

    /// Unregisters a handle; returns its scorer so that the caller releases it outside the lock. Unknown or
    /// already closed handles give nil.
    func remove(_ handle: OpaquePointer?) -> StoreScorers? {
        guard let (index, generation) = Self.decode(handle) else { return nil }
        return table.withLock { t -> StoreScorers? in
            guard index < t.slots.count, t.slots[index].generation == generation, let s = t.slots[index].scorer
            else { return nil }
            t.slots[index].scorer = nil
            t.free.append(index)
            return s
        }
    }

    /// Open handles (for tests).
    var count: Int { table.withLock { t in t.slots.count - t.free.count } }

    // MARK: Packing

    private static func handle(index: Int, generation: UInt32) -> OpaquePointer {
        let bits = (UInt(index) + 1) << 32 | UInt(generation)
        return OpaquePointer(bitPattern: bits)!
    }

    private static func decode(_ handle: OpaquePointer?) -> (Int, UInt32)? {
        guard let handle else { return nil }
        let bits = UInt(bitPattern: handle)
        let high = bits >> 32
        guard high > 0 else { return nil }
        return (Int(high - 1), UInt32(truncatingIfNeeded: bits))
    }

    private static func notAHandle(_ handle: OpaquePointer?) -> CallFailure {
        guard handle != nil else { return .invalidArgument("scorer is NULL") }
        return .invalidArgument(
            "scorer is not an open handle (closed already, or never returned by lifelong_scorer_open)")
    }
}
