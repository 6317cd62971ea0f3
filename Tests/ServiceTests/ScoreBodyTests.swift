import Foundation
import Tensors
import Testing

@testable import Service

/// What Foundation's decoder makes of a score body: the reference the one-pass reader is held to (but for a
/// name given twice, where the decoder keeps the first value and the reader the last, as the log reader does:
/// JSONRulesTests).
struct Decoded: Decodable, Equatable {
    var user: String
    var candidates: [String]
    var mode: String?
    var timeout_ms: Double?
}

func both(_ text: [UInt8]) -> (reference: Decoded?, parsed: Core.ScoreCall?, error: String?) {
    let reference = try? JSONDecoder().decode(Decoded.self, from: Data(text))
    do {
        let call = try text.withUnsafeBytes { raw throws(ServiceError) in try ScoreBody.parse(raw) }
        return (reference, call, nil)
    } catch { return (reference, nil, (error as? ServiceError)?.message ?? "\(error)") }
}

func agrees(_ r: (reference: Decoded?, parsed: Core.ScoreCall?, error: String?)) -> Bool {
    switch (r.reference, r.parsed) {
    case (nil, nil): true
    case (let d?, let c?):
        d.user == c.user && d.candidates == c.candidates && (d.mode ?? "") == c.mode
            && (d.timeout_ms ?? 0).bitPattern == c.timeoutMs.bitPattern
    default: false
    }
}

@Suite("The score body's one-pass JSON reader")
struct ScoreBodyTests {
    static let valid: [String] = [
        #"{"user":"1","candidates":["a","b"]}"#,
        #" { "candidates" : [ ] , "user" : "u" , "mode" : "full" , "timeout_ms" : 1.5e2 } "#,
        #"{"user":"\u00e9\ud83d\ude00\n\t\"\\\/","candidates":["x\u0041","日本"],"mode":null,"timeout_ms":null}"#,
        #"{"extra":{"a":[1,2,{"b":null}],"c":"\"}"},"user":"u","candidates":["c"],"more":[true,false,-0.5e-3]}"#,
        #"{"user":"u","candidates":["c"],"timeout_ms":0}"#,
        #"{"user":"u","candidates":["c"],"timeout_ms":-12}"#,
    ]
    static let invalid: [String] = [
        "", "   ", "{", "[1,2]", "null", "\"x\"", #"{"user":"u"}"#, #"{"candidates":[]}"#,
        #"{"user":1,"candidates":[]}"#,
        #"{"user":"u","candidates":"c"}"#, #"{"user":"u","candidates":["c",2]}"#, #"{"user":"u","candidates":["c"],}"#,
        #"{"user":"u","candidates":["c"]} x"#, #"{"user":"u","candidates":["c",]}"#, #"{"user":"u\x","candidates":[]}"#,
        #"{"user":"\ud800","candidates":[]}"#,
        #"{"user":"u","candidates":[],"timeout_ms":01}"#, #"{"user":"u","candidates":[],"timeout_ms":1.}"#,
        #"{"user":"u","candidates":[],"timeout_ms":"5"}"#, #"{"user":"u","candidates":[],"mode":5}"#,
        "{\"user\":\"a\tb\",\"candidates\":[]}", #"{"user":"u","candidates":[],"x":tru}"#, #"{user:"u"}"#,
    ]

    /// The one leniency of Foundation's decoder that the reader does not copy.
    static func trailingComma(_ text: String) -> Bool { text.contains(/,\s*[}\]]/) }

    /// Where the decoder accepts what the reader refuses, the text must be no JSON: `JSONSerialization`
    /// (which parses every value, where the decoder skips unused ones unchecked) refuses it too, or it has a
    /// trailing comma.
    static func refusedRightly(_ text: [UInt8]) -> Bool {
        trailingComma(String(decoding: text, as: UTF8.self))
            || (try? JSONSerialization.jsonObject(with: Data(text), options: [.fragmentsAllowed])) == nil
    }

    @Test("valid bodies read as Foundation's decoder reads them; invalid ones are refused as it refuses them")
    func corpus() {
        for text in Self.valid {
            let r = both(Array(text.utf8))
            #expect(r.parsed != nil && agrees(r), "\(text): \(r.error ?? "")")
        }
        for text in Self.invalid {
            let r = both(Array(text.utf8))
            #expect(r.parsed == nil && (r.reference == nil || Self.refusedRightly(Array(text.utf8))), "\(text)")
        }
        #expect(both([0x7B, 0x22, 0x75, 0x73, 0x65, 0x72, 0x22, 0x3A, 0x22, 0xFF, 0x22, 0x7D]).parsed == nil)
        let deep = Array((String(repeating: "[", count: 100) + String(repeating: "]", count: 100)).utf8)
        #expect(both(Array(#"{"x":"#.utf8) + deep + Array(#","user":"u","candidates":[]}"#.utf8)).parsed == nil)
    }

    @Test("errors name the field, as the decoder's messages do")
    func messages() {
        let cases: [(String, String)] = [
            (#"{"candidates":[]}"#, "field 'user' is missing"), (#"{"user":"u"}"#, "field 'candidates' is missing"),
            (#"{"user":[1],"candidates":[]}"#, "field 'user': expected a string"),
            (#"{"user":"u","candidates":{"a":1}}"#, "field 'candidates': expected an array"),
            (#"{"user":"u","candidates":["a",null]}"#, "field 'candidates[1]': expected a string"),
            (#"{"user":"u","candidates":[],"timeout_ms":"1"}"#, "field 'timeout_ms': expected a number"),
            ("[]", "the body: expected an object"), (#"{"user":"u","#, "not a JSON object of UTF-8 text (byte 12)"),
        ]
        for (text, message) in cases {
            let r = both(Array(text.utf8))
            #expect(r.error?.contains(message) == true, "\(text): \(r.error ?? "accepted")")
        }
    }

    @Test("10^4 random mutations of valid bodies: the decoder's values, refused only where the JSON is broken")
    func mutations() {
        var g = Gaussian(seed: 20_261_207)  // the project's seeded generator: a failure replays
        let alphabet = Array(#"{}[]":,\ u0aeE.-+9nultrfs"#.utf8) + [0x00, 0x1F, 0x80, 0xC3, 0xFF]
        var disagreements: [String] = []
        for k in 0..<10_000 {
            var text = Array(Self.valid[k % Self.valid.count].utf8)
            for _ in 0..<Int.random(in: 1...3, using: &g) {
                let at = Int.random(in: 0..<text.count, using: &g)
                switch Int.random(in: 0..<3, using: &g) {
                case 0: text[at] = alphabet.randomElement(using: &g)!
                case 1: text.remove(at: at)
                default: text.insert(alphabet.randomElement(using: &g)!, at: at)
                }
                if text.isEmpty { break }
            }
            let r = both(text), string = String(decoding: text, as: UTF8.self)
            if !agrees(r) && !(r.parsed == nil && Self.refusedRightly(text)) { disagreements.append(string) }
        }
        #expect(disagreements.isEmpty, "\(disagreements.count) disagree, e.g. \(disagreements.prefix(5))")
    }
}
