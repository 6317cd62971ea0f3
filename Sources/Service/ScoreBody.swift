import Foundation
import JSONText

/// The score request's JSON body, read in one pass over its bytes: Foundation's `JSONDecoder` takes several
/// times as long for the same body (`lifelong-bench decode`; docs/SERVING.md). The log reader's JSON rules
/// (docs/FORMATS.md; one corpus tests both): strict RFC 8259, a name given twice means its last value, unknown
/// members are skipped (but must be valid JSON), `null` is an absent optional; each error names the field as
/// `HTTPAPI.describe` does.
public struct ScoreBody {
    private let bytes: UnsafeRawBufferPointer
    private var at = 0
    private static let maxDepth = 64

    /// The call in `body`, or `invalidArgument` naming the field (or the byte where the JSON breaks).
    public static func parse(_ body: UnsafeRawBufferPointer) throws(ServiceError) -> Core.ScoreCall {
        var p = ScoreBody(bytes: body)
        var user: String?, candidates: [String]?, mode: String?, timeout: Double?
        p.space()
        guard p.peek == UInt8(ascii: "{") else { throw p.peek == nil ? p.broken() : Self.field("", "an object") }
        p.at += 1
        p.space()
        if p.peek == UInt8(ascii: "}") {
            p.at += 1
        } else {
            while true {
                p.space()
                guard p.peek == UInt8(ascii: "\"") else { throw p.broken() }
                let key = try p.string()
                p.space()
                try p.expect(UInt8(ascii: ":"))
                p.space()
                // A name given twice means its last value, as in a log line (docs/FORMATS.md).
                switch key {
                case "user": user = try p.string(field: "user")
                case "candidates": candidates = try p.strings(field: "candidates")
                case "mode": mode = try p.optionalString(field: "mode")
                case "timeout_ms": timeout = try p.optionalNumber(field: "timeout_ms")
                default: try p.skipValue(depth: 1)
                }
                p.space()
                if p.peek == UInt8(ascii: ",") {
                    p.at += 1
                    continue
                }
                try p.expect(UInt8(ascii: "}"))
                break
            }
        }
        p.space()
        guard p.at == body.count else { throw p.broken() }
        guard let user else { throw ServiceError(.invalidArgument, "field 'user' is missing") }
        guard let candidates else { throw ServiceError(.invalidArgument, "field 'candidates' is missing") }
        return Core.ScoreCall(user: user, candidates: candidates, mode: mode ?? "", timeoutMs: timeout ?? 0)
    }

    private static func field(_ name: String, _ type: String) -> ServiceError {
        ServiceError(
            .invalidArgument, name.isEmpty ? "the body: expected \(type)" : "field '\(name)': expected \(type)")
    }

    private func broken() -> ServiceError {
        ServiceError(.invalidArgument, "the body is not a JSON object of UTF-8 text (byte \(min(at, bytes.count)))")
    }

    private var peek: UInt8? { at < bytes.count ? bytes[at] : nil }

    private mutating func space() {
        while let c = peek, c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { at += 1 }
    }

    private mutating func expect(_ c: UInt8) throws(ServiceError) {
        guard peek == c else { throw broken() }
        at += 1
    }

    private mutating func string(field: String) throws(ServiceError) -> String {
        guard peek == UInt8(ascii: "\"") else { throw try mismatch(field, "a string") }
        return try string()
    }

    private mutating func optionalString(field: String) throws(ServiceError) -> String? {
        if try null() { return nil }
        return try string(field: field)
    }

    private mutating func optionalNumber(field: String) throws(ServiceError) -> Double? {
        if try null() { return nil }
        guard let c = peek, c == UInt8(ascii: "-") || (0x30...0x39).contains(c) else {
            throw try mismatch(field, "a number")
        }
        return try number()
    }

    private mutating func strings(field: String) throws(ServiceError) -> [String] {
        guard peek == UInt8(ascii: "[") else { throw try mismatch(field, "an array") }
        at += 1
        var out: [String] = []
        space()
        if peek == UInt8(ascii: "]") {
            at += 1
            return out
        }
        while true {
            space()
            // The field's name is made only for an error: interpolating it per element cost more than the read.
            guard peek == UInt8(ascii: "\"") else { throw try mismatch("\(field)[\(out.count)]", "a string") }
            out.append(try string())
            space()
            if peek == UInt8(ascii: ",") {
                at += 1
                continue
            }
            try expect(UInt8(ascii: "]"))
            return out
        }
    }

    /// A value of the wrong type where `field` is: the type error if the value is valid JSON, else where it breaks.
    private mutating func mismatch(_ field: String, _ type: String) throws(ServiceError) -> ServiceError {
        try skipValue(depth: 1)
        return Self.field(field, type)
    }

    private mutating func null() throws(ServiceError) -> Bool {
        guard peek == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    private mutating func literal(_ word: StaticString) throws(ServiceError) {
        let n = word.utf8CodeUnitCount
        guard at + n <= bytes.count, memcmp(bytes.baseAddress! + at, word.utf8Start, n) == 0 else { throw broken() }
        at += n
    }

    /// A string at `"`: escapes decoded, UTF-8 validated.
    private mutating func string() throws(ServiceError) -> String {
        at += 1
        let start = at
        var high: UInt8 = 0
        while let c = peek, c != UInt8(ascii: "\""), c != UInt8(ascii: "\\"), c >= 0x20 {
            high |= c
            at += 1
        }
        if peek == UInt8(ascii: "\"") {  // no escapes: the bytes as they are (ASCII needs no validation)
            let raw = UnsafeRawBufferPointer(rebasing: bytes[start..<at])
            at += 1
            if high < 0x80 { return String(decoding: raw, as: UTF8.self) }
            guard let text = String(validating: raw, as: UTF8.self) else { throw broken() }
            return text
        }
        var out = Array(bytes[start..<at])
        while true {
            guard let c = peek, c >= 0x20 else { throw broken() }
            at += 1
            if c == UInt8(ascii: "\"") { break }
            guard c == UInt8(ascii: "\\") else {
                out.append(c)
                continue
            }
            guard let e = peek else { throw broken() }
            at += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"): out.append(contentsOf: try escapedScalar())
            default: throw broken()
            }
        }
        guard let text = String(validating: out, as: UTF8.self) else { throw broken() }
        return text
    }

    /// `\uXXXX` (after the `u`), with a surrogate pair's second half, as UTF-8.
    private mutating func escapedScalar() throws(ServiceError) -> [UInt8] {
        guard let (scalar, end) = JSONText.unicodeEscape(bytes, at: at) else { throw broken() }
        at = end
        return Array(String(Character(scalar)).utf8)
    }

    /// A JSON number (the grammar checked), as a Double.
    private mutating func number() throws(ServiceError) -> Double {
        let start = at
        func digits(_ p: inout ScoreBody) -> Int {
            let s = p.at
            while let c = p.peek, (0x30...0x39).contains(c) { p.at += 1 }
            return p.at - s
        }
        if peek == UInt8(ascii: "-") { at += 1 }
        let whole = digits(&self)
        guard whole > 0, !(whole > 1 && bytes[at - whole] == 0x30) else { throw broken() }
        if peek == UInt8(ascii: ".") {
            at += 1
            guard digits(&self) > 0 else { throw broken() }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            at += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { at += 1 }
            guard digits(&self) > 0 else { throw broken() }
        }
        guard let value = Double(String(decoding: bytes[start..<at], as: UTF8.self)) else { throw broken() }
        return value
    }

    /// Skips one value of any type, nested at most `maxDepth` deep.
    private mutating func skipValue(depth: Int) throws(ServiceError) {
        guard depth <= Self.maxDepth, let c = peek else { throw broken() }
        switch c {
        case UInt8(ascii: "\""): _ = try string()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "["), UInt8(ascii: "{"):
            let object = c == UInt8(ascii: "{")
            at += 1
            space()
            if peek == (object ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                at += 1
                return
            }
            while true {
                space()
                if object {
                    guard peek == UInt8(ascii: "\"") else { throw broken() }
                    _ = try string()
                    space()
                    try expect(UInt8(ascii: ":"))
                    space()
                }
                try skipValue(depth: depth + 1)
                space()
                if peek == UInt8(ascii: ",") {
                    at += 1
                    continue
                }
                try expect(object ? UInt8(ascii: "}") : UInt8(ascii: "]"))
                return
            }
        default: _ = try number()
        }
    }
}
