public import Errors
public import LMDB
import Foundation
import Tensors

/// The Lifelong store: one LMDB environment (a folder) with six named databases.
///
/// | database | key | value |
/// |---|---|---|
/// | `meta` | UTF-8 name | UTF-8 value (format, fingerprint, m, tau, d, window, precision, …) |
/// | `items` | raw item id (UTF-8) | `ItemRecord` |
/// | `item_ids` | store item id (u32 BE) | raw item id (UTF-8) |
/// | `users` | raw user id (UTF-8) | `UserRecord` |
/// | `sequences` | raw user id + 0x00 + chunk (u32 BE) | up to 64 × (u32 store item id, f64 timestamp, u8 feedback) |
/// | `texts` | SHA-256 of the UTF-8 text + u8 text layers K | `TextVectorRecord` (BAHE text atom cache) |
public final class Store: @unchecked Sendable {
    /// v3: a user's record covers a prefix of its sequence, the rest (the pending tail, fewer than
    /// `foldEvery`) is added by readers; v2 added the feedback byte. Older stores are re-encoded.
    public static let format = "lifelong.store.v3"
    package static let chunkCapacity = 64
    /// Bytes of one `sequences` entry: u32 store item id + f64 timestamp + u8 feedback.
    @usableFromInline package static let sequenceEntrySize = 13

    /// One behavior of a stored sequence. `feedback` is `Model.Feedback`'s raw value: 0 unknown, 1 not
    /// clicked, 2 clicked (what the log's label said).
    @usableFromInline package struct SequenceEntry: Equatable, Sendable {
        @usableFromInline package var item: UInt32
        @usableFromInline package var timestamp: Double
        @usableFromInline package var feedback: UInt8
        @inlinable
        package init(item: UInt32, timestamp: Double, feedback: UInt8) {
            self.item = item
            self.timestamp = timestamp
            self.feedback = feedback
        }
    }

    /// The LMDB environment and its databases: for the offline job and the tests in this package, not for
    /// clients (they go through the accessors, which own every key and record layout).
    package let environment: Environment
    package let metaDatabase: Database, items: Database, itemIds: Database, users: Database, sequences: Database
    /// The text atom cache; nil only in a store opened read-only that was written before it existed.
    package let texts: Database?

    /// The longest user or item id a key can hold (LMDB's key limit is 511 bytes, less the key prefixes).
    public static let maxIdBytes = 400

    /// Whether `id` can be a user or item key: 1…`maxIdBytes` bytes of UTF-8 without a NUL.
    public static func isValidId(_ id: String) -> Bool {
        let n = id.utf8.count
        return n > 0 && n <= maxIdBytes && !id.utf8.contains(0)
    }

    /// A store or manifest that is missing (`notFound`), not a Lifelong store or holds a damaged record
    /// (`damaged`), cannot be read (`io`), or belongs to another model (`modelMismatch`).
    /// - Parameter mapSize: the initial map (it grows on demand, doubling; tests start it small to force that).
    public init(
        path: String, readOnly: Bool = false, durability: Environment.Durability = .full, mapSize: Int = 256 << 20
    ) throws {
        var o = Environment.Options()
        o.readOnly = readOnly
        o.create = !readOnly
        o.mapSize = mapSize
        o.durability = durability
        if readOnly, !FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent("data.mdb")) {
            throw LifelongError(
                .notFound, message: "\(path): no store here (expected data.mdb; create one with `lifelong encode`)")
        }
        if !readOnly {  // parent folders too: `encode --store out/shards/shard-0` on a fresh machine
            try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        let environment = try Environment(path: path, options: o)
        self.environment = environment
        // All six databases in one transaction: a process killed while creating the store leaves all or none.
        let names = ["meta", "items", "item_ids", "users", "sequences", "texts"]
        let opened = try environment.databases(names, create: !readOnly)
        for (name, db) in zip(names, opened).dropLast() where db == nil {
            throw LifelongError(.damaged, message: "\(path): not a Lifelong store (no '\(name)' database)")
        }
        metaDatabase = opened[0]!; items = opened[1]!; itemIds = opened[2]!
        users = opened[3]!; sequences = opened[4]!
        texts = opened[5]
    }

    /// The `texts` key of a text embedded with the first `layers` layers.
    package static func textKey(hash: [UInt8], layers: Int) -> [UInt8] { hash + [UInt8(layers)] }

    // MARK: Meta

    package func metaValues() throws -> [String: String] {
        var out: [String: String] = [:]
        try environment.read { txn in
            try txn.scan(metaDatabase) { k, v in
                out[String(decoding: k, as: UTF8.self)] = String(decoding: v, as: UTF8.self)
                return .next
            }
        }
        return out
    }

    /// Sequence chunk key: user id, a 0 byte, the chunk index big-endian (built on the stack when used).
    package static func chunkKey(user: String, chunk: UInt32) -> ChunkKey { ChunkKey(user: user, chunk: chunk) }

    /// Entry `e` of a `sequences` value: (u32 store item id, f64 timestamp, u8 feedback), little-endian.
    /// Inlinable: the scorer's `online`/`full` modes read every entry of a sequence per request.
    @inlinable
    package static func sequenceEntry(_ chunk: UnsafeRawBufferPointer, _ e: Int) -> SequenceEntry {
        SequenceEntry(
            item: chunk.littleEndian(UInt32.self, at: e * sequenceEntrySize),
            timestamp: Double(bitPattern: chunk.littleEndian(UInt64.self, at: e * sequenceEntrySize + 4)),
            feedback: chunk[e * sequenceEntrySize + 12])
    }

    /// Writes entry `e` of a `sequences` value (the layout `sequenceEntry` reads).
    package static func storeSequenceEntry(_ entry: SequenceEntry, into chunk: UnsafeMutableRawBufferPointer, at e: Int)
    {
        let offset = e * sequenceEntrySize
        chunk.storeBytes(of: entry.item.littleEndian, toByteOffset: offset, as: UInt32.self)
        chunk.storeBytes(of: entry.timestamp.bitPattern.littleEndian, toByteOffset: offset + 4, as: UInt64.self)
        chunk[offset + 12] = entry.feedback
    }

    /// The entries at `positions` of `user`'s sequence, one read per chunk; nil when a chunk is missing or short.
    package func sequenceEntries(
        _ txn: borrowing Transaction, user: String, _ positions: Range<Int>
    ) throws -> [SequenceEntry]? {
        var out: [SequenceEntry] = []
        var position = positions.lowerBound
        while position < positions.upperBound {
            let chunk = position / Self.chunkCapacity, first = position % Self.chunkCapacity
            let last = min(Self.chunkCapacity, first + positions.upperBound - position)
            let read = try txn.get(sequences, Self.chunkKey(user: user, chunk: UInt32(chunk))) { v -> Bool in
                guard last * Self.sequenceEntrySize <= v.count else { return false }
                for e in first..<last { out.append(Self.sequenceEntry(v, e)) }
                return true
            }
            guard read == true else { return nil }
            position += last - first
        }
        return out
    }

    /// The cached text atom of the text with SHA-256 `hash` at `layers` layers; nil when absent or damaged.
    package func textAtom(_ txn: borrowing Transaction, hash: [UInt8], layers: Int) throws -> TextVectorRecord? {
        guard let texts else { return nil }
        return try txn.get(texts, Self.textKey(hash: hash, layers: layers)) { try? TextVectorRecord(decoding: $0) }
            ?? nil
    }
}

/// What the store knows about an item (the `items` database).
///
/// ```
///  0 "LLI1" | 4 u32 store item id | 8 u32 item row | 12 u32 category row | 16 u16 n_sig | 18 u16 flags (bit 0: has
/// text)
/// 20 u32 CRC-32C (zeroed while computing) | 24 32-byte model fingerprint | 56 32-byte SHA-256 of the text (zeros if
/// none)
/// 88 n_sig signature bytes | u16 length + UTF-8 category raw id
/// ```
package struct ItemRecord: Equatable, Sendable {
    package static let magic: [UInt8] = Array("LLI1".utf8)
    package var storeId: UInt32
    package var itemRow: UInt32
    package var categoryRow: UInt32
    package var fingerprint: [UInt8]
    package var textHash: [UInt8]?
    package var signature: [UInt8]
    package var category: String?

    package init(
        storeId: UInt32, itemRow: UInt32, categoryRow: UInt32, fingerprint: [UInt8], textHash: [UInt8]?,
        signature: [UInt8], category: String?
    ) {
        self.storeId = storeId
        self.itemRow = itemRow
        self.categoryRow = categoryRow
        self.fingerprint = fingerprint
        self.textHash = textHash
        self.signature = signature
        self.category = category
    }

    package func encoded() -> [UInt8] {
        let cat = Array((category ?? "").utf8)
        var out = [UInt8](repeating: 0, count: 88 + signature.count + 2 + cat.count)
        out.withUnsafeMutableBytes { buf in
            var w = ByteWriter(buf)
            w.bytes(Self.magic); w.u32(storeId); w.u32(itemRow); w.u32(categoryRow)
            w.u16(UInt16(signature.count)); w.u16(textHash == nil ? 0 : 1); w.u32(0)
            w.bytes(fingerprint)
            if let textHash { w.bytes(textHash) } else { w.zeros(32) }
            w.bytes(signature); w.u16(UInt16(cat.count)); w.bytes(cat)
            let crc = CRC32C.checksum(UnsafeRawBufferPointer(buf))
            buf.storeBytes(of: crc.littleEndian, toByteOffset: 20, as: UInt32.self)
        }
        return out
    }

    package init(decoding bytes: UnsafeRawBufferPointer) throws {
        func fail(_ m: String) -> LifelongError { .init(.damaged, message: m) }
        guard bytes.count >= 90, Array(bytes[0..<4]) == Self.magic else { throw fail("not an item record") }
        var r = ByteReader(bytes)
        _ = r.bytes(4)
        storeId = r.u32(); itemRow = r.u32(); categoryRow = r.u32()
        let n = Int(r.u16()), flags = r.u16(), crc = r.u32()
        fingerprint = r.bytes(32)
        let th = r.bytes(32)
        textHash = flags & 1 != 0 ? th : nil
        guard bytes.count >= 88 + n + 2 else { throw fail("item record truncated") }
        signature = r.bytes(n)
        let len = Int(r.u16())
        guard bytes.count == 88 + n + 2 + len else { throw fail("item record size mismatch") }
        guard CRC32C.checksum(bytes, zeroing: 20..<24) == crc else { throw fail("item record checksum mismatch") }
        let c = r.bytes(len)
        category = len == 0 ? nil : String(decoding: c, as: UTF8.self)
    }
}

/// A cached text atom (the `texts` database): `x(text)` of one text under one text model and layer count.
///
/// ```
///  0 "LLT1" | 4 u8 layers K | 5 u8 reserved | 6 u16 width (384) | 8 u32 CRC-32C (zeroed while computing)
/// 12 32-byte text model fingerprint (SHA-256 of its model.safetensors then vocab.txt) | 44 width × f32
/// ```
package struct TextVectorRecord: Equatable, Sendable {
    package static let magic: [UInt8] = Array("LLT1".utf8)
    package static let headerSize = 44
    package var layers: Int
    package var modelFingerprint: [UInt8]
    package var vector: [Float]

    package init(layers: Int, modelFingerprint: [UInt8], vector: [Float]) {
        self.layers = layers
        self.modelFingerprint = modelFingerprint
        self.vector = vector
    }

    package var encodedSize: Int { Self.headerSize + 4 * vector.count }

    package func encode(into buf: UnsafeMutableRawBufferPointer) {
        precondition(buf.count == encodedSize && modelFingerprint.count == 32)
        var w = ByteWriter(buf)
        w.bytes(Self.magic); w.u8(UInt8(layers)); w.u8(0); w.u16(UInt16(vector.count)); w.u32(0)
        w.bytes(modelFingerprint)
        for x in vector { w.u32(x.bitPattern) }
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(buf))
        buf.storeBytes(of: crc.littleEndian, toByteOffset: 8, as: UInt32.self)
    }

    package init(decoding bytes: UnsafeRawBufferPointer) throws {
        func fail(_ m: String) -> LifelongError { .init(.damaged, message: m) }
        guard bytes.count >= Self.headerSize, Array(bytes[0..<4]) == Self.magic else {
            throw fail("not a text vector record")
        }
        var r = ByteReader(bytes)
        _ = r.bytes(4)
        let head = r.bytes(2)
        layers = Int(head[0])
        let width = Int(r.u16()), crc = r.u32()
        guard bytes.count == Self.headerSize + 4 * width else { throw fail("text vector record size mismatch") }
        guard CRC32C.checksum(bytes, zeroing: 8..<12) == crc else { throw fail("text vector record checksum mismatch") }
        modelFingerprint = r.bytes(32)
        vector = (0..<width).map { _ in Float(bitPattern: r.u32()) }
    }
}
