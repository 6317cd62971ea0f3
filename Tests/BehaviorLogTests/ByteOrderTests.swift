import Testing
import BehaviorLog

@Suite("Byte order of ids")
struct ByteOrderTests {
    /// Strings that stress the fast paths: shared 8-byte prefixes, prefixes of each other, NUL bytes,
    /// multi-byte UTF-8, canonically equivalent NFC/NFD pairs (equal for Swift's `==`, not in byte order).
    static func samples() -> [String] {
        var rng = SystemRandomNumberGenerator()
        let alphabet: [String] = ["a", "b", "z", "0", "\u{0}", "é", "e\u{301}", "ß", "中", "😀", "A", "~"]
        var out = [
            "", "a", "ab", "abcdefgh", "abcdefghi", "abcdefgh\u{0}", "abcdefgg", "i1", "i10", "i2", "é", "e\u{301}",
        ]
        for _ in 0..<600 {
            let prefix = Bool.random(using: &rng) ? "abcdefgh" : ""
            out.append(
                prefix
                    + (0..<Int.random(in: 0...6, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
                    .joined())
        }
        return out
    }

    @Test("precedesInByteOrder equals comparing the UTF-8 bytes")
    func pairwise() {
        let s = Self.samples()
        for a in s {
            for b in s.prefix(120) {
                #expect(
                    a.precedesInByteOrder(b) == a.utf8.lexicographicallyPrecedes(b.utf8),
                    "\(a.debugDescription) vs \(b.debugDescription)")
            }
        }
    }

    @Test("byteOrderPermutation sorts like the UTF-8 bytes and is stable")
    func permutation() {
        let s = Self.samples()
        let p = s.byteOrderPermutation()
        #expect(p.sorted() == Array(s.indices))
        for (i, j) in zip(p, p.dropFirst()) {
            #expect(!s[j].utf8.lexicographicallyPrecedes(s[i].utf8))
            if s[i].utf8.elementsEqual(s[j].utf8) { #expect(i < j) }
        }
    }
}
