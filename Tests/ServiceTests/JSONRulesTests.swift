import Foundation
import Testing

@testable import BehaviorLog
@testable import Service

/// One corpus of JSON values for the two strict readers: the log reader (`JSONLine`, docs/FORMATS.md) and the
/// score body's (`ScoreBody`). Each must accept and refuse the same texts and read the same values: strings
/// with every escape, numbers by the JSON grammar, and a name given twice meaning its last value.
@Suite("JSON rules shared by the log reader and the score body")
struct JSONRulesTests {
    /// A string literal and its value, or nil where the literal is not JSON.
    static let strings: [(String, String?)] = [
        (#""a""#, "a"), (#""""#, ""), (#""\u00e9\u00E9""#, "éé"), (#""\ud83d\ude00""#, "😀"), (#""日本""#, "日本"),
        (#""\"\\\/\b\f\n\r\t""#, "\"\\/\u{8}\u{c}\n\r\t"), (#""\u0000""#, "\u{0}"), (#""a\u0041b""#, "aAb"),
        (#""\ud800""#, nil), (#""\udc00""#, nil), (#""\ud800\u0041""#, nil), (#""\x""#, nil), (#""\u12""#, nil),
        (#""\u12g4""#, nil), ("\"a\tb\"", nil), ("\"a\nb\"", nil), (#""abc"#, nil), (#"'a'"#, nil),
    ]

    /// A number literal and its value, or nil where the literal is not JSON.
    static let numbers: [(String, Double?)] = [
        ("0", 0), ("-0", -0.0), ("12", 12), ("1.5e2", 150), ("1E+2", 100), ("2.5e-3", 0.0025), ("-7.25", -7.25),
        ("123456789012345678901234567890", 123_456_789_012_345_678_901_234_567_890.0), ("1e999", .infinity),
        ("01", nil), ("1.", nil), (".5", nil), ("-", nil), ("1e", nil), ("+1", nil), ("0x10", nil), ("NaN", nil),
        ("Infinity", nil), ("1.5.2", nil), ("--1", nil),
    ]

    /// What the log reader makes of member `name` of `body`, read while the body's bytes are lent.
    enum Read: Equatable {
        case refused, absent, other
        case string(String)
        case number(Double)
    }

    func logReader(_ body: String, _ name: StaticString) -> Read {
        let members = JSONLine.Members()
        return Array(body.utf8).withUnsafeBytes { raw in
            guard members.parse(raw) else { return .refused }
            switch JSONLine.value(members.items, name) {
            case .none: return .absent
            case .string(let text): return .string(text.string)
            case .number(let n): return .number(n.double)
            default: return .other
            }
        }
    }

    func scoreBody(_ body: String) -> Core.ScoreCall? {
        try? Array(body.utf8).withUnsafeBytes { raw throws(ServiceError) in try ScoreBody.parse(raw) }
    }

    @Test("strings: the same accepted, the same refused, the same values")
    func strings() {
        for (literal, want) in Self.strings {
            let log = logReader("{\"user\":\(literal)}", "user")
            let body = scoreBody("{\"user\":\(literal),\"candidates\":[]}")
            #expect(log == (want.map { .string($0) } ?? .refused), "log reader, \(literal)")
            #expect(body?.user == want, "score body, \(literal)")
        }
    }

    @Test("numbers: the same grammar and the same doubles")
    func numbers() {
        for (literal, want) in Self.numbers {
            let log = logReader("{\"t\":\(literal)}", "t")
            let body = scoreBody("{\"user\":\"u\",\"candidates\":[],\"timeout_ms\":\(literal)}")
            var fromLog: Double?
            if case .number(let d) = log { fromLog = d }
            #expect(
                fromLog?.bitPattern == want?.bitPattern && (want != nil || log == .refused), "log reader, \(literal)")
            #expect(body.map(\.timeoutMs.bitPattern) == want?.bitPattern, "score body, \(literal)")
        }
    }

    @Test("a name given twice means its last value, in both")
    func repeatedNames() {
        #expect(logReader(#"{"user":"first","x":1,"user":"second"}"#, "user") == .string("second"))
        let body = scoreBody(
            #"{"user":"first","candidates":["a"],"user":"second","candidates":["b","c"],"mode":"full","mode":null}"#)
        #expect(body?.user == "second" && body?.candidates == ["b", "c"] && body?.mode == "")
        // Each repeated value is still read, so a broken one refuses the body in both.
        #expect(scoreBody(#"{"user":"a","user":"\x","candidates":[]}"#) == nil)
        #expect(logReader(#"{"user":"a","user":"\x"}"#, "user") == .refused)
    }
}
