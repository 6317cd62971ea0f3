/// What the two strict JSON readers share (the log's `JSONLine` and the service's `ScoreBody`): the `\u` escape,
/// with RFC 8259's rules for UTF-8 text. A module of its own, so that the service shares it without linking the
/// log reader.
public enum JSONText {
    /// The scalar of a `\u` escape whose four hex digits begin at `at` (just after `\u`), joined with the
    /// `\uXXXX` of a surrogate pair's second half, and the index after the escape; nil for a digit that is not
    /// hex, an escape cut short, and a lone surrogate of either half.
    public static func unicodeEscape(_ bytes: UnsafeRawBufferPointer, at start: Int) -> (Unicode.Scalar, end: Int)? {
        guard let high = hex4(bytes, start) else { return nil }
        if (0xDC00...0xDFFF).contains(high) { return nil }
        guard (0xD800...0xDBFF).contains(high) else { return Unicode.Scalar(high).map { ($0, start + 4) } }
        let next = start + 4
        guard next + 6 <= bytes.count, bytes[next] == 0x5C, bytes[next + 1] == 0x75,
            let low = hex4(bytes, next + 2), (0xDC00...0xDFFF).contains(low)
        else { return nil }
        return Unicode.Scalar(0x1_0000 + ((high - 0xD800) << 10) + (low - 0xDC00)).map { ($0, next + 6) }
    }

    /// Four hex digits (either case) at `at`.
    private static func hex4(_ bytes: UnsafeRawBufferPointer, _ at: Int) -> UInt32? {
        guard at >= 0, at + 4 <= bytes.count else { return nil }
        var v: UInt32 = 0
        for k in at..<(at + 4) {
            let b = bytes[k]
            let digit: UInt8
            switch b {
            case 0x30...0x39: digit = b - 0x30
            case 0x61...0x66: digit = b - 0x61 + 10
            case 0x41...0x46: digit = b - 0x41 + 10
            default: return nil
            }
            v = v << 4 | UInt32(digit)
        }
        return v
    }
}
