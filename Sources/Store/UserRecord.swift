public import Errors
import Glibc
import LMDB
public import Model
import Tensors

/// One user's encoded state (MODEL.md) over the first L behaviors of its sequence: L, their last timestamp, the
/// `n_sig × 2^τ` bucket **sums** (unnormalised) and counts, and the last-K window. The full sequence lives in
/// the `sequences` database; the behaviors past L (fewer than `Store.foldEvery`) are the pending tail.
///
/// Byte layout of a `users` value (little-endian; docs/FORMATS.md):
/// ```
///  0  "LLU1"            magic
///  4  u16 version = 3
///  6  u8  precision      0 = f32 sums, 1 = f16 sums
///  7  u8  reserved = 0
///  8  u16 n_sig        10  u16 buckets      12  u32 d
/// 16  u32 K (window capacity)               20  u32 w (entries in the window)
/// 24  u64 L (behaviors)                     32  f64 last timestamp
/// 40  u32 CRC-32C of the whole record with these 4 bytes zero
/// 44  u32 reserved = 0
/// 48  32 bytes model fingerprint (SHA-256)
/// 80  counts: u32 × n_sig·buckets
///     sums:   (f32 | f16) × n_sig·buckets·d
///     window: w × (u32 store item id, u32 item row, u32 category row, u8 feedback, 3 bytes 0), oldest first
/// ```
public struct UserRecord: Equatable, Sendable {
    package static let magic: [UInt8] = Array("LLU1".utf8)
    package static let version: UInt16 = 3
    package static let headerSize = 80
    package static let windowEntrySize = 16

    public enum Precision: UInt8, Sendable, CaseIterable {
        case f32 = 0, f16 = 1
        package var size: Int { self == .f32 ? 4 : 2 }
    }

    package struct WindowEntry: Equatable, Sendable {
        package var item: UInt32  // store item id
        package var itemRow: UInt32  // model row of the item
        package var categoryRow: UInt32
        /// `Model.Feedback` raw value: 0 unknown, 1 not clicked, 2 clicked.
        package var feedback: UInt8
        package init(item: UInt32, itemRow: UInt32, categoryRow: UInt32, feedback: UInt8 = 0) {
            self.item = item
            self.itemRow = itemRow
            self.categoryRow = categoryRow
            self.feedback = feedback
        }
    }

    package var nSig: Int
    package var buckets: Int
    package var d: Int
    package var windowCapacity: Int
    package var length: UInt64 = 0
    package var lastTimestamp: Double = -.infinity
    package var fingerprint: [UInt8]
    package var counts: [UInt32]
    package var sums: [Float]
    package var window: [WindowEntry] = []

    package init(nSig: Int, buckets: Int, d: Int, windowCapacity: Int, fingerprint: [UInt8]) {
        self.nSig = nSig
        self.buckets = buckets
        self.d = d
        self.windowCapacity = windowCapacity
        self.fingerprint = fingerprint
        counts = Array(repeating: 0, count: nSig * buckets)
        sums = Array(repeating: 0, count: nSig * buckets * d)
    }

    /// Adds one behavior: `vector` (d floats) into the bucket of each signature, slides the window.
    /// - Complexity: O(n_sig · d + K).
    package mutating func append(
        vector: UnsafePointer<Float>, signature: UnsafePointer<UInt8>, entry: WindowEntry, timestamp: Double
    ) {
        withUnsafePointer(to: 0) { zero in
            append(count: 1, vectors: vector, signatures: signature, rows: zero, timestamp: timestamp) { _ in entry }
        }
    }

    /// Adds `count` behaviors in order: behavior `j` is row `rows[j]` of `vectors` (`[n, d]`) and of
    /// `signatures` (`[n, n_sig]`); `entry(j)` is its window entry; `timestamp` is the last one's.
    ///
    /// Blocked so the hot data stays in cache: a block of behaviors is sorted by bucket once per signature,
    /// then each bucket row takes its members' vectors through register accumulators (one store per row
    /// slice instead of one read-modify-write per behavior).
    /// - Complexity: O(count · n_sig · d + K).
    package mutating func append(
        count: Int, vectors: UnsafePointer<Float>, signatures: UnsafePointer<UInt8>, rows: UnsafePointer<Int>,
        timestamp: Double, entry: (Int) -> WindowEntry
    ) {
        guard count > 0 else { return }
        counts.withUnsafeMutableBufferPointer { n in
            sums.withUnsafeMutableBufferPointer { s in
                SimHash.aggregate(
                    count: count, vectors: vectors, signatures: signatures, rows: rows, nSig: nSig, buckets: buckets,
                    d: d,
                    counts: n.baseAddress!, sums: s.baseAddress!)
            }
        }
        if windowCapacity > 0 {
            let keep = max(0, windowCapacity - count)
            if window.count > keep { window.removeFirst(window.count - keep) }
            for j in max(0, count - windowCapacity)..<count { window.append(entry(j)) }
        }
        length += UInt64(count)
        lastTimestamp = timestamp
    }

    package func encodedSize(precision: Precision) -> Int {
        Self.headerSize + 4 * counts.count + precision.size * sums.count + Self.windowEntrySize * window.count
    }

    /// Writes the record into `out` (exactly `encodedSize(precision:)` bytes), checksum included.
    package func encode(precision: Precision, into out: UnsafeMutableRawBufferPointer) {
        precondition(out.count == encodedSize(precision: precision))
        var w = ByteWriter(out)
        w.bytes(Self.magic)
        w.u16(Self.version); w.u8(precision.rawValue); w.u8(0)
        w.u16(UInt16(nSig)); w.u16(UInt16(buckets)); w.u32(UInt32(d))
        w.u32(UInt32(windowCapacity)); w.u32(UInt32(window.count))
        w.u64(length); w.u64(lastTimestamp.bitPattern)
        w.u32(0); w.u32(0)
        w.bytes(fingerprint)
        for c in counts { w.u32(c) }
        switch precision {
        case .f32: w.floats(sums)
        case .f16: for s in sums { w.u16(Float16(s).bitPattern) }
        }
        for e in window { w.u32(e.item); w.u32(e.itemRow); w.u32(e.categoryRow); w.u8(e.feedback); w.zeros(3) }
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(out))
        out.storeBytes(of: crc.littleEndian, toByteOffset: 40, as: UInt32.self)
    }

    package func encoded(precision: Precision) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: encodedSize(precision: precision))
        bytes.withUnsafeMutableBytes { encode(precision: precision, into: $0) }
        return bytes
    }

    /// A stored record that does not decode: always `damaged`.
    /// A stored record read in place, without copying: the header's fields and where each section starts.
    /// Opening checks magic, version, precision and that the size matches the header — not the checksum
    /// (`init(decoding:)` does; the scorer skips it per request). The one place that knows the layout.
    package struct View {
        package let bytes: UnsafeRawBufferPointer
        package let precision: Precision
        package let nSig: Int, buckets: Int, d: Int, windowCapacity: Int, windowCount: Int
        package let length: UInt64
        package let lastTimestamp: Double
        static let checksumOffset = 40, fingerprintOffset = 48

        package init(_ bytes: UnsafeRawBufferPointer) throws {
            func fail(_ m: String) -> LifelongError { LifelongError(.damaged, message: m) }
            guard bytes.count >= UserRecord.headerSize else {
                throw fail("record of \(bytes.count) bytes is shorter than its header")
            }
            guard bytes.loadUnaligned(as: UInt32.self) == UInt32(littleEndian: 0x3155_4C4C) /* "LLU1" */ else {
                throw fail("bad magic (not a user record)")
            }
            let version = bytes.littleEndian(UInt16.self, at: 4)
            guard version == UserRecord.version else {
                throw fail("record version \(version), this build reads \(UserRecord.version)")
            }
            guard let precision = Precision(rawValue: bytes[6]) else { throw fail("unknown precision") }
            self.bytes = bytes
            self.precision = precision
            nSig = Int(bytes.littleEndian(UInt16.self, at: 8))
            buckets = Int(bytes.littleEndian(UInt16.self, at: 10))
            d = Int(bytes.littleEndian(UInt32.self, at: 12))
            windowCapacity = Int(bytes.littleEndian(UInt32.self, at: 16))
            windowCount = Int(bytes.littleEndian(UInt32.self, at: 20))
            length = bytes.littleEndian(UInt64.self, at: 24)
            lastTimestamp = Double(bitPattern: bytes.littleEndian(UInt64.self, at: 32))
            // A damaged header can describe sizes whose product overflows Int: bound them in floating point first.
            let described =
                Double(UserRecord.headerSize) + Double(nSig) * Double(buckets)
                * (4 + Double(precision.size) * Double(d))
                + Double(UserRecord.windowEntrySize) * Double(windowCount)
            guard described == Double(bytes.count) else {
                throw fail("record is \(bytes.count) bytes, its header describes \(described)")
            }
            let expected =
                UserRecord.headerSize + 4 * nSig * buckets + precision.size * nSig * buckets * d + UserRecord
                .windowEntrySize * windowCount
            guard bytes.count == expected, windowCount <= windowCapacity else {
                throw fail("record is \(bytes.count) bytes, its header describes \(expected)")
            }
        }

        package var countsOffset: Int { UserRecord.headerSize }
        package var sumsOffset: Int { countsOffset + 4 * nSig * buckets }
        package var windowOffset: Int { sumsOffset + precision.size * nSig * buckets * d }

        /// Whether the record carries this model fingerprint (32 bytes).
        package func hasFingerprint(_ fingerprint: [UInt8]) -> Bool {
            fingerprint.count == 32
                && fingerprint.withUnsafeBytes { f in
                    memcmp(f.baseAddress!, bytes.baseAddress! + Self.fingerprintOffset, 32) == 0
                }
        }

        /// The bucket sums as f32 into `out` (`n_sig · buckets · d` floats), converting f16.
        package func copySums(into out: UnsafeMutablePointer<Float>) {
            let n = nSig * buckets * d
            switch precision {
            case .f32: bytes.copyFloats(at: sumsOffset, count: n, into: out)
            case .f16:
                for k in 0..<n {
                    out[k] = Float(Float16(bitPattern: bytes.littleEndian(UInt16.self, at: sumsOffset + 2 * k)))
                }
            }
        }

        /// Window entry `j`, oldest first.
        package func windowEntry(_ j: Int) -> WindowEntry {
            let at = windowOffset + UserRecord.windowEntrySize * j
            return WindowEntry(
                item: bytes.littleEndian(UInt32.self, at: at), itemRow: bytes.littleEndian(UInt32.self, at: at + 4),
                categoryRow: bytes.littleEndian(UInt32.self, at: at + 8), feedback: bytes[at + 12])
        }
    }

    /// Decodes and verifies (magic, version, sizes, checksum) a stored record.
    package init(decoding bytes: UnsafeRawBufferPointer) throws {
        let view = try View(bytes)
        nSig = view.nSig; buckets = view.buckets; d = view.d
        windowCapacity = view.windowCapacity
        length = view.length
        lastTimestamp = view.lastTimestamp
        let w = view.windowCount, n = nSig * buckets
        let storedCRC = bytes.littleEndian(UInt32.self, at: View.checksumOffset)
        guard CRC32C.checksum(bytes, zeroing: View.checksumOffset..<(View.checksumOffset + 4)) == storedCRC else {
            throw LifelongError(.damaged, message: "checksum mismatch (corrupt record)")
        }
        fingerprint = Array(bytes[View.fingerprintOffset..<(View.fingerprintOffset + 32)])
        counts = (0..<n).map { bytes.littleEndian(UInt32.self, at: view.countsOffset + 4 * $0) }
        let size = n * view.d
        sums = [Float](unsafeUninitializedCapacity: size) { buffer, initialised in
            view.copySums(into: buffer.baseAddress!)
            initialised = size
        }
        window = (0..<w).map(view.windowEntry)
    }
}

/// Sequential little-endian writes into a buffer.
struct ByteWriter {
    let out: UnsafeMutableRawBufferPointer
    var offset = 0
    init(_ out: UnsafeMutableRawBufferPointer) { self.out = out }
    mutating func u8(_ v: UInt8) { out[offset] = v; offset += 1 }
    mutating func u16(_ v: UInt16) {
        out.storeBytes(of: v.littleEndian, toByteOffset: offset, as: UInt16.self); offset += 2
    }
    mutating func u32(_ v: UInt32) {
        out.storeBytes(of: v.littleEndian, toByteOffset: offset, as: UInt32.self); offset += 4
    }
    mutating func u64(_ v: UInt64) {
        out.storeBytes(of: v.littleEndian, toByteOffset: offset, as: UInt64.self); offset += 8
    }
    mutating func bytes(_ b: [UInt8]) {
        precondition(offset + b.count <= out.count)
        b.withUnsafeBytes {
            UnsafeMutableRawBufferPointer(rebasing: out[offset..<(offset + b.count)]).copyMemory(from: $0)
        }
        offset += b.count
    }
    /// `values` as little-endian f32, one copy (every platform Swift runs this on is little-endian).
    mutating func floats(_ values: [Float]) {
        let n = 4 * values.count
        precondition(offset + n <= out.count)
        values.withUnsafeBytes { (out.baseAddress! + offset).copyMemory(from: $0.baseAddress!, byteCount: n) }
        offset += n
    }
    mutating func zeros(_ n: Int) {
        precondition(offset + n <= out.count)
        UnsafeMutableRawBufferPointer(rebasing: out[offset..<(offset + n)]).initializeMemory(
            as: UInt8.self, repeating: 0)
        offset += n
    }
}

/// Sequential little-endian reads at any alignment, through the storage layer's unaligned helpers.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    var offset = 0
    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }
    mutating func u16() -> UInt16 { defer { offset += 2 }; return bytes.littleEndian(UInt16.self, at: offset) }
    mutating func u32() -> UInt32 { defer { offset += 4 }; return bytes.littleEndian(UInt32.self, at: offset) }
    mutating func bytes(_ n: Int) -> [UInt8] { defer { offset += n }; return Array(bytes[offset..<(offset + n)]) }
}
