/// Numbers in log fields (docs/FORMATS.md, "Behavior logs"): decimal only, `[+-]?(D+(.D*)?|.D+)([eE][+-]?D+)?`
/// with ASCII digits D, finite, and nothing else — no surrounding spaces (fields are trimmed first), no
/// `inf`/`nan`, no hex, no digit separators. The value is the correctly rounded double, as every language's
/// decimal conversion gives it.
enum DecimalNumber {
    /// The value of `bytes`, or nil when they are not a finite number of that grammar.
    static func parse(_ bytes: UnsafeRawBufferPointer) -> Double? {
        // The common case, an integer of 1 to 15 digits (timestamps, ratings, labels), is exact as it is:
        // one pass, no string.
        if !bytes.isEmpty, bytes.count <= 15 {
            var v: Int64 = 0, digits = true
            for b in bytes {
                let digit = b &- 0x30
                digits = digits && digit <= 9
                v = v &* 10 &+ Int64(digit)
            }
            if digits { return Double(v) }
        }
        guard isDecimal(bytes) else { return nil }
        guard let v = Double(bytes.string), v.isFinite else { return nil }
        return v
    }

    /// Whether `bytes` match `[+-]?(D+(.D*)?|.D+)([eE][+-]?D+)?`.
    static func isDecimal(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        let n = bytes.count
        func digits() -> Int {
            let from = i
            while i < n, bytes[i] >= 0x30, bytes[i] <= 0x39 { i += 1 }
            return i - from
        }
        if i < n, bytes[i] == 0x2B || bytes[i] == 0x2D { i += 1 }
        var mantissa = digits()
        if i < n, bytes[i] == 0x2E {
            i += 1
            mantissa += digits()
        }
        guard mantissa > 0 else { return false }
        if i < n, bytes[i] == 0x65 || bytes[i] == 0x45 {
            i += 1
            if i < n, bytes[i] == 0x2B || bytes[i] == 0x2D { i += 1 }
            guard digits() > 0 else { return false }
        }
        return i == n
    }
}
