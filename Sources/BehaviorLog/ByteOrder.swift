import Glibc

extension String {
    /// Whether this string's UTF-8 bytes sort before `other`'s (memcmp, shorter prefix first): the order of
    /// ids everywhere in Lifelong — the store's keys, ties in time, vocabulary rows — which is also Unicode
    /// code point order. Swift's `<` compares canonically equivalent forms as equal, so it cannot order
    /// ids; `utf8.lexicographicallyPrecedes` can, but byte by byte through the generic iterator, which made
    /// sorting 10^5 ids a visible share of an encode.
    public func precedesInByteOrder(_ other: String) -> Bool {
        var a = self, b = other
        return a.withUTF8 { x in
            b.withUTF8 { y in
                let n = min(x.count, y.count)
                let c = n == 0 ? 0 : memcmp(x.baseAddress!, y.baseAddress!, n)
                return c != 0 ? c < 0 : x.count < y.count
            }
        }
    }
}

extension Array where Element == String {
    /// The indices of the strings in `precedesInByteOrder` order (stable). Each string's first 8 bytes are
    /// packed big-endian into an integer once, so most comparisons are one integer compare; only ties
    /// on those bytes compare the whole strings.
    public func byteOrderPermutation() -> [Int] {
        let prefixes = map { s -> UInt64 in
            var copy = s
            return copy.withUTF8 { b in
                var p: UInt64 = 0
                for i in 0..<8 { p = p << 8 | UInt64(i < b.count ? b[i] : 0) }
                return p
            }
        }
        return indices.sorted { i, j in
            prefixes[i] != prefixes[j] ? prefixes[i] < prefixes[j] : self[i].precedesInByteOrder(self[j])
        }
    }
}
