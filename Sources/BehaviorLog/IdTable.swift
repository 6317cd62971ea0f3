import Foundation

/// The ids of one log file, interned by their bytes: each distinct id becomes a `String` once, and every
/// later occurrence is a hash of its bytes and a compare against the first occurrence in the file's buffer —
/// no decoding, no validation (the file was checked once), no `Hasher`. Ids are told apart by their UTF-8
/// bytes, as the store's keys are; `IdentifierForms` sees each distinct id once, when it is new.
///
/// The table keeps pointers into the file's bytes: it lives only while the `LogFile` it reads does.
struct IdTable {
    /// One slot of the open-addressing table (linear probing): the hash, the length, the first 16 bytes and
    /// the id itself, so a lookup of a short id touches this slot only (not the id's first occurrence in the
    /// file, nor another array).
    private struct Slot {
        var hash: UInt64 = 0, lo: UInt64 = 0, hi: UInt64 = 0
        var count: Int32 = -1  // -1: empty
        var index: Int32 = 0
        var id = ""
    }

    /// Where each id's bytes are (for ids longer than 16 bytes, compared in full).
    private var keys: [UnsafeRawBufferPointer] = []
    private var slots: [Slot]
    private var mask: Int
    private var others = Set<[UInt8]>()

    init(capacity: Int = 1024) {
        var size = 16
        while 3 * size < 4 * capacity { size <<= 1 }
        slots = [Slot](repeating: Slot(), count: size)
        mask = size - 1
    }

    /// The id of `bytes` (from the file's buffer), and whether this is its first occurrence.
    @inline(__always)
    mutating func intern(_ bytes: UnsafeRawBufferPointer) -> (id: String, isNew: Bool) {
        let (lo, hi) = Self.prefix(bytes)
        let h = Self.hash(bytes, lo, hi)
        let n = Int32(bytes.count)
        var i = Int(truncatingIfNeeded: h) & mask
        let found: String? = slots.withUnsafeBufferPointer { t in
            while true {
                if t[i].count < 0 { return nil }
                if t[i].hash == h, t[i].count == n, t[i].lo == lo, t[i].hi == hi,
                    n <= 16 || memcmp(keys[Int(t[i].index)].baseAddress!, bytes.baseAddress!, bytes.count) == 0
                {
                    return t[i].id
                }
                i = (i + 1) & mask
            }
        }
        if let found { return (found, false) }
        let id = bytes.string
        slots[i] = Slot(hash: h, lo: lo, hi: hi, count: n, index: Int32(keys.count), id: id)
        keys.append(bytes)
        if 4 * keys.count > 3 * slots.count { grow() }  // at most 3/4 full
        return (id, true)
    }

    /// Whether `id` (made by the caller, not interned: an escaped JSON string, say) is the first of its bytes
    /// given to this function.
    mutating func isFirst(_ id: String) -> Bool { others.insert(Array(id.utf8)).inserted }

    private mutating func grow() {
        let old = slots
        slots = [Slot](repeating: Slot(), count: old.count * 2)
        mask = slots.count - 1
        for s in old where s.count >= 0 {
            var i = Int(truncatingIfNeeded: s.hash) & mask
            while slots[i].count >= 0 { i = (i + 1) & mask }
            slots[i] = s
        }
    }

    /// The first 16 bytes as two little-endian words, zero-padded (loads never pass the end of `bytes`).
    @inline(__always)
    static func prefix(_ bytes: UnsafeRawBufferPointer) -> (UInt64, UInt64) {
        let n = bytes.count
        if n >= 16 {
            return (
                bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self),
                bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
            )
        }
        var words: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &words) { $0.copyMemory(from: bytes) }
        return words
    }

    /// A 64-bit hash of the bytes (multiply, xor-shift): the 16-byte prefix, then 8 bytes at a time, with
    /// the length.
    @inline(__always)
    static func hash(_ bytes: UnsafeRawBufferPointer, _ lo: UInt64, _ hi: UInt64) -> UInt64 {
        let n = bytes.count
        var h = (0x9E37_79B9_7F4A_7C15 ^ UInt64(n) ^ lo) &* 0xFF51_AFD7_ED55_8CCD
        h = (h ^ (h >> 32) ^ hi) &* 0xC4CE_B9FE_1A85_EC53
        var k = 16
        while k + 8 <= n {
            h = (h ^ bytes.loadUnaligned(fromByteOffset: k, as: UInt64.self)) &* 0xFF51_AFD7_ED55_8CCD
            h ^= h >> 32
            k += 8
        }
        if k < n {
            var tail: UInt64 = 0
            for j in k..<n { tail |= UInt64(bytes[j]) << (8 * UInt64(j - k)) }
            h = (h ^ tail) &* 0xC4CE_B9FE_1A85_EC53
        }
        h ^= h >> 29
        h = h &* 0xFF51_AFD7_ED55_8CCD
        return h ^ (h >> 32)
    }
}
