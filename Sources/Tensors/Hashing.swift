import CKernels

/// Small byte-level helpers every layer shares: the stable id hash and hex text.
public enum Hashing {
    /// FNV-1a 64 of the UTF-8 bytes: the stable hash behind `--shard K/N` (shard = hash mod N), the same on
    /// every machine and in every language (`docs/FORMATS.md` gives the constants).
    @inline(__always)
    public static func fnv1a64(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    /// Lower-case hex of `bytes` (fingerprints, text hashes).
    public static func hex<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// CRC-32C (Castagnoli) of the store's records: the SSE4.2 instruction when the CPU has it, slicing-by-8
/// tables otherwise (`CKernels`, chosen once at load; both give the same value).
package enum CRC32C {
    /// The checksum of `bytes`, with the bytes in `skip` read as zero (where the checksum itself is stored).
    package static func checksum(_ bytes: UnsafeRawBufferPointer, zeroing skip: Range<Int> = 0..<0) -> UInt32 {
        checksum(bytes, zeroing: skip, lifelong_crc32c_update)
    }

    /// `checksum` through the table variant alone (the tests compare the two).
    package static func portableChecksum(_ bytes: UnsafeRawBufferPointer, zeroing skip: Range<Int> = 0..<0) -> UInt32 {
        checksum(bytes, zeroing: skip, lifelong_crc32c_update_portable)
    }

    /// Whether `checksum` runs the SSE4.2 instruction on this CPU.
    package static var usesHardware: Bool { lifelong_crc32c_uses_sse42() != 0 }

    private static func checksum(
        _ bytes: UnsafeRawBufferPointer, zeroing skip: Range<Int>,
        _ update: (UInt32, UnsafeRawPointer?, Int) -> UInt32
    ) -> UInt32 {
        let n = bytes.count
        let lo = min(skip.lowerBound, n), hi = min(max(skip.upperBound, lo), n)
        var c: UInt32 = 0xFFFF_FFFF
        c = update(c, bytes.baseAddress, lo)
        let zeros: (UInt64, UInt64) = (0, 0)
        var left = hi - lo
        while left > 0 {
            let step = min(left, 16)
            c = withUnsafeBytes(of: zeros) { update(c, $0.baseAddress, step) }
            left -= step
        }
        c = update(c, bytes.baseAddress.map { $0 + hi }, n - hi)
        return ~c
    }
}
