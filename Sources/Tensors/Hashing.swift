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
