import Tensors

/// Dense indices for item ids, one per distinct id in order of first sight: an open-addressing table (linear
/// probing) over a 64-bit FNV-1a hash of the UTF-8 bytes. The encoder interns every behavior's item id once,
/// and Swift's `Dictionary<String, Int>` (SipHash through `Hasher`) was the largest cost of that pass.
/// Ids are told apart by their UTF-8 bytes, like the store's keys: "é" and "e\u{301}" are two items here
/// (their byte hashes differ; `String ==`, which would call them equal, only confirms a 64-bit hash match).
struct Interner {
    private(set) var ids: [String] = []
    private var hashes: [UInt64] = []
    private var slots: [Int32]
    private var mask: Int

    init(capacity: Int = 1024) {
        var size = 16
        while size < 2 * capacity { size <<= 1 }
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
    }

    var count: Int { ids.count }

    /// The index of `id`, adding it when new.
    @inline(__always)
    mutating func index(of id: String) -> Int {
        let h = Self.hash(id)
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let s = Int(slots[i])
            if s < 0 { break }
            if hashes[s] == h && ids[s] == id { return s }
            i = (i + 1) & mask
        }
        let index = ids.count
        slots[i] = Int32(index)
        ids.append(id)
        hashes.append(h)
        if 2 * ids.count > slots.count { grow() }
        return index
    }

    private mutating func grow() {
        slots = [Int32](repeating: -1, count: slots.count * 2)
        mask = slots.count - 1
        for (index, h) in hashes.enumerated() {
            var i = Int(truncatingIfNeeded: h) & mask
            while slots[i] >= 0 { i = (i + 1) & mask }
            slots[i] = Int32(index)
        }
    }

    /// FNV-1a 64 of the UTF-8 bytes, with a final avalanche so the low bits (the slot) mix every byte.
    @inline(__always)
    static func hash(_ s: String) -> UInt64 {
        var h = Hashing.fnv1a64(s)
        h ^= h >> 29
        h = h &* 0xbf58_476d_1ce4_e5b9
        return h ^ (h >> 32)
    }
}
