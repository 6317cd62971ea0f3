import Foundation
import JSONText

/// One line of JSON Lines as strict JSON (RFC 8259): a top-level object whose members are read as the log
/// rules need them — strings, numbers (their literal kept, so integer ids keep every digit), booleans,
/// null — and whose nested objects and arrays are checked and skipped. A lone surrogate escape, a raw
/// control character in a string, `NaN`, trailing text or nesting deeper than `maximumDepth` makes the
/// line not a JSON object. A name given twice means its last value.
///
/// Names and strings are lent as the line's bytes when they hold no escape (the common case: nothing is
/// decoded or copied), and as their decoded bytes in the `Members` scratch when they do; a member is plain
/// data (pointers and flags), so a line's members are dropped without releasing anything.
struct JSONLine {
    static let maximumDepth = 64

    enum Value {
        case string(Text)
        /// A number's literal (lent: valid while the line is).
        case number(JSONNumber)
        case bool(Bool)
        case null
        /// An object or an array.
        case composite
    }

    /// A JSON string: the bytes between its quotes when it has no escape, else its decoded bytes (both lent).
    struct Text {
        let raw: UnsafeRawBufferPointer
        /// Whether the string had an escape (`raw` is then the decoded bytes).
        let escaped: Bool
        /// Whether the bytes are all ASCII.
        let isASCII: Bool

        var string: String { raw.string }
        var isEmpty: Bool { raw.isEmpty }

        /// Whether the text is `key` (ASCII): by bytes when the text is ASCII and unescaped, as `String`s
        /// (canonical equivalence, as Swift compares text) otherwise.
        @inline(__always)
        func isKey(_ key: StaticString) -> Bool {
            if !escaped, isASCII {
                return raw.count == key.utf8CodeUnitCount
                    && (raw.isEmpty || memcmp(raw.baseAddress!, key.utf8Start, raw.count) == 0)
            }
            return string == String(describing: key)
        }
    }

    typealias Member = (name: Text, value: Value)

    /// A line's members and the scratch its escaped strings are decoded into, reused from line to line. The
    /// members are valid until the next parse into the same `Members`.
    final class Members {
        private(set) var items: [Member] = []
        private var scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 1)

        init() {}
        deinit { scratch.deallocate() }

        /// Parses `bytes`; false when they are not one JSON object.
        func parse(_ bytes: UnsafeRawBufferPointer) -> Bool {
            items.removeAll(keepingCapacity: true)
            if scratch.count < bytes.count {  // a decoded string is never longer than its escaped form
                scratch.deallocate()
                scratch = .allocate(byteCount: bytes.count, alignment: 1)
            }
            var p = JSONLine(bytes: bytes, scratch: scratch.baseAddress!)
            swap(&items, &p.members)  // the parser appends into this object's storage, then hands it back
            defer { swap(&items, &p.members) }
            p.skipSpace()
            guard p.peek == 0x7B, p.object() else { return false }
            p.skipSpace()
            return p.at == bytes.count
        }
    }

    /// The last value of member `name`.
    static func value(_ members: [Member], _ name: StaticString) -> Value? {
        members.last { $0.name.isKey(name) }?.value
    }

    private let bytes: UnsafeRawBufferPointer
    private var at = 0
    private var depth = 0
    /// Where escaped strings are decoded (`used` bytes taken).
    private let scratch: UnsafeMutableRawPointer
    private var used = 0
    /// The top-level object's members, in order.
    private var members: [Member] = []

    private init(bytes: UnsafeRawBufferPointer, scratch: UnsafeMutableRawPointer) {
        self.bytes = bytes
        self.scratch = scratch
    }

    private var peek: UInt8? { at < bytes.count ? bytes[at] : nil }

    private mutating func skipSpace() {
        while let b = peek, b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { at += 1 }
    }

    private mutating func take(_ b: UInt8) -> Bool {
        guard peek == b else { return false }
        at += 1
        return true
    }

    /// An object; the top-level one's members (depth 1) go into `members`, nested ones are checked and skipped.
    private mutating func object() -> Bool {
        guard take(0x7B) else { return false }
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maximumDepth else { return false }
        skipSpace()
        if take(0x7D) { return true }
        while true {
            skipSpace()
            guard peek == 0x22, let name = string() else { return false }
            skipSpace()
            guard take(0x3A) else { return false }
            skipSpace()
            guard let v = value() else { return false }
            if depth == 1 { members.append((name, v)) }
            skipSpace()
            if take(0x2C) { continue }
            return take(0x7D)
        }
    }

    private mutating func array() -> Bool {
        guard take(0x5B) else { return false }
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maximumDepth else { return false }
        skipSpace()
        if take(0x5D) { return true }
        while true {
            skipSpace()
            guard value() != nil else { return false }
            skipSpace()
            if take(0x2C) { continue }
            return take(0x5D)
        }
    }

    private mutating func value() -> Value? {
        switch peek {
        case 0x22: return string().map(Value.string)
        case 0x7B: return object() ? .composite : nil
        case 0x5B: return array() ? .composite : nil
        case 0x74: return literal("true") ? .bool(true) : nil
        case 0x66: return literal("false") ? .bool(false) : nil
        case 0x6E: return literal("null") ? .null : nil
        default: return number().map(Value.number)
        }
    }

    private mutating func literal(_ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard at + n <= bytes.count else { return false }
        for k in 0..<n where bytes[at + k] != word.utf8Start[k] { return false }
        at += n
        return true
    }

    /// `-?(0|[1-9]D*)(.D+)?([eE][+-]?D+)?`
    private mutating func number() -> JSONNumber? {
        let start = at
        func digits() -> Int {
            let from = at
            while let b = peek, b >= 0x30, b <= 0x39 { at += 1 }
            return at - from
        }
        _ = take(0x2D)
        guard let first = peek, first >= 0x30, first <= 0x39 else { return nil }
        if first == 0x30 { at += 1 } else { _ = digits() }
        var integer = true
        if take(0x2E) {
            integer = false
            guard digits() > 0 else { return nil }
        }
        if peek == 0x65 || peek == 0x45 {
            at += 1
            integer = false
            if peek == 0x2B || peek == 0x2D { at += 1 }
            guard digits() > 0 else { return nil }
        }
        return JSONNumber(literal: UnsafeRawBufferPointer(rebasing: bytes[start..<at]), isIntegerLiteral: integer)
    }

    private mutating func string() -> Text? {
        guard take(0x22) else { return nil }
        let start = at
        var high: UInt8 = 0
        while let b = peek, b != 0x22, b != 0x5C {
            guard b >= 0x20 else { return nil }
            high |= b
            at += 1
        }
        if take(0x22) {
            return Text(
                raw: UnsafeRawBufferPointer(rebasing: bytes[start..<(at - 1)]), escaped: false, isASCII: high < 0x80)
        }
        // An escape: decode from here on into the scratch.
        let begin = used
        func put(_ b: UInt8) {
            scratch.storeBytes(of: b, toByteOffset: used, as: UInt8.self)
            used += 1
            high |= b
        }
        for k in start..<at { put(bytes[k]) }
        while let b = peek, b != 0x22 {
            guard b >= 0x20 else { return nil }
            at += 1
            guard b == 0x5C else {
                put(b)
                continue
            }
            guard let e = peek else { return nil }
            at += 1
            switch e {
            case 0x22, 0x5C, 0x2F: put(e)
            case 0x62: put(0x08)
            case 0x66: put(0x0C)
            case 0x6E: put(0x0A)
            case 0x72: put(0x0D)
            case 0x74: put(0x09)
            case 0x75:
                guard let scalar = unicodeEscape() else { return nil }
                UTF8.encode(scalar) { put($0) }
            default: return nil
            }
        }
        guard take(0x22) else { return nil }
        return Text(
            raw: UnsafeRawBufferPointer(start: scratch + begin, count: used - begin), escaped: true,
            isASCII: high < 0x80)
    }

    /// After `\u`: four hex digits, and a second `\uXXXX` for a surrogate pair; a lone surrogate is refused.
    private mutating func unicodeEscape() -> Unicode.Scalar? {
        guard let (scalar, end) = JSONText.unicodeEscape(bytes, at: at) else { return nil }
        at = end
        return scalar
    }
}

/// A JSON number as written: its literal, and whether it is an integer literal (no fraction, no exponent).
struct JSONNumber {
    let literal: UnsafeRawBufferPointer
    let isIntegerLiteral: Bool

    /// The correctly rounded double (±infinity past the double range).
    var double: Double { DecimalNumber.parse(literal) ?? Double(literal.string) ?? .nan }

    /// The number as an id (docs/FORMATS.md): an integer literal as its digits (`-0` as `0`), another
    /// number whose value is an integer of magnitude below 2^53 as that integer; nil otherwise.
    var idText: String? {
        if isIntegerLiteral {
            let text = literal.string
            return text.utf8.dropFirst(text.hasPrefix("-") ? 1 : 0).allSatisfy({ $0 == 0x30 }) ? "0" : text
        }
        let v = double
        guard v.isFinite, v == v.rounded(), abs(v) < 9_007_199_254_740_992 else { return nil }
        return String(Int64(v))
    }
}
