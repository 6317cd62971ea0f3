public import Errors
import Foundation

/// BERT's uncased WordPiece tokenizer (the one all-MiniLM-L6-v2 was trained with), from its `vocab.txt`.
///
/// Steps, as in BERT's `BasicTokenizer` + `WordpieceTokenizer`:
/// 1. clean-up: NUL, U+FFFD and control characters are dropped; whitespace becomes a space;
/// 2. every CJK ideograph becomes a word of its own;
/// 3. per whitespace-separated word: lower-case, canonical decomposition (NFD) and dropping of combining
///    marks (accent stripping), then a split before and after every punctuation character (ASCII
///    symbols count as punctuation, as in BERT);
/// 4. per word: greedy longest-match of vocabulary pieces, continuation pieces prefixed `##`; a word over 100
///    characters, or one with a part no piece matches, becomes `[UNK]`;
/// 5. `[CLS]` … `[SEP]`, the pieces truncated so the whole is at most `maxTokens` (256) ids.
public struct WordPieceTokenizer: Sendable {
    public let vocabulary: [String: Int32]
    public let cls: Int32, sep: Int32, unknown: Int32, pad: Int32
    public let maxTokens: Int
    static let maxWordCharacters = 100

    /// A `vocab.txt` that cannot be read (`io`) or is not a WordPiece vocabulary (`damaged`).
    /// Reads `vocab.txt`: one piece per line, its id the 0-based line number.
    public init(vocabularyFile path: String, maxTokens: Int = 256) throws {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw LifelongError(.io, message: "\(path): cannot read the vocabulary (\(error.localizedDescription))")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw LifelongError(.damaged, message: "\(path): not valid UTF-8")
        }
        var pieces = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            String($0.hasSuffix("\r") ? $0.dropLast() : $0)
        }
        if pieces.last == "" { pieces.removeLast() }
        try self.init(pieces: pieces, maxTokens: maxTokens, source: path)
    }

    /// A tokenizer over `pieces` (id = index).
    public init(pieces: [String], maxTokens: Int = 256, source: String = "vocabulary") throws {
        var v: [String: Int32] = [:]
        v.reserveCapacity(pieces.count)
        for (i, p) in pieces.enumerated() where v[p] == nil { v[p] = Int32(i) }
        func special(_ s: String) throws -> Int32 {
            guard let id = v[s] else {
                throw LifelongError(.damaged, message: "\(source): no \(s) token (\(pieces.count) lines read)")
            }
            return id
        }
        guard maxTokens >= 2 else { throw LifelongError(.damaged, message: "\(source): maxTokens must be at least 2") }
        vocabulary = v
        cls = try special("[CLS]"); sep = try special("[SEP]"); unknown = try special("[UNK]");
        pad = try special("[PAD]")
        self.maxTokens = maxTokens
    }

    /// The ids of `text`: `[CLS]`, its pieces (truncated), `[SEP]`.
    public func ids(_ text: String) -> [Int32] {
        var out: [Int32] = [cls]
        let budget = maxTokens - 2
        outer: for word in basicTokens(text) {
            for id in wordPieces(word) {
                if out.count - 1 == budget { break outer }
                out.append(id)
            }
        }
        out.append(sep)
        return out
    }

    /// Steps 1–3: the words of `text` after clean-up, lower-casing, accent stripping and punctuation splits.
    public func basicTokens(_ text: String) -> [String] {
        // 1 + 2: clean-up and CJK spacing, on Unicode scalars.
        var cleaned = String.UnicodeScalarView()
        for s in text.unicodeScalars {
            let v = s.value
            if v == 0 || v == 0xFFFD || Self.isControl(s) { continue }
            if Self.isWhitespace(s) {
                cleaned.append(" ")
            } else if Self.isCJK(v) {
                cleaned.append(" "); cleaned.append(s); cleaned.append(" ")
            } else {
                cleaned.append(s)
            }
        }
        var words: [String] = []
        for raw in String(cleaned).split(separator: " ", omittingEmptySubsequences: true) {
            // 3: lower-case, NFD, drop combining marks (Mn), split around punctuation.
            let normalized = String(raw).lowercased().decomposedStringWithCanonicalMapping
            var current = String.UnicodeScalarView()
            for s in normalized.unicodeScalars {
                if s.properties.generalCategory == .nonspacingMark { continue }
                if Self.isPunctuation(s) {
                    if !current.isEmpty { words.append(String(current)); current = String.UnicodeScalarView() }
                    words.append(String(s))
                } else if Self.isWhitespace(s) {
                    // lower-casing or decomposition can produce a space-like scalar; it separates words.
                    if !current.isEmpty { words.append(String(current)); current = String.UnicodeScalarView() }
                } else {
                    current.append(s)
                }
            }
            if !current.isEmpty { words.append(String(current)) }
        }
        return words
    }

    /// Step 4: greedy longest-match pieces of one word (characters counted as Unicode scalars, as Python does).
    public func wordPieces(_ word: String) -> [Int32] {
        let scalars = Array(word.unicodeScalars)
        guard scalars.count <= Self.maxWordCharacters else { return [unknown] }
        var out: [Int32] = []
        var start = 0
        while start < scalars.count {
            var end = scalars.count
            var found: Int32?
            while start < end {
                var piece = start > 0 ? "##" : ""
                piece.unicodeScalars.append(contentsOf: scalars[start..<end])
                if let id = vocabulary[piece] { found = id; break }
                end -= 1
            }
            guard let id = found else { return [unknown] }
            out.append(id)
            start = end
        }
        return out
    }

    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        s == " " || s == "\t" || s == "\n" || s == "\r" || s.properties.generalCategory == .spaceSeparator
    }

    /// Control characters (Unicode category C*), except tab, newline and carriage return (whitespace).
    static func isControl(_ s: Unicode.Scalar) -> Bool {
        if s == "\t" || s == "\n" || s == "\r" { return false }
        switch s.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned: return true
        default: return false
        }
    }

    /// Unicode punctuation (P*), plus every non-alphanumeric ASCII symbol (`$`, `+`, `^`, `` ` `` …), as BERT does.
    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) {
            return true
        }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
            .finalPunctuation, .otherPunctuation:
            return true
        default: return false
        }
    }

    /// The CJK Unified Ideographs blocks BERT spaces out (not Hiragana, Katakana or Hangul).
    static func isCJK(_ v: UInt32) -> Bool {
        (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x20000...0x2A6DF).contains(v)
            || (0x2A700...0x2B73F).contains(v) || (0x2B740...0x2B81F).contains(v) || (0x2B820...0x2CEAF).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0x2F800...0x2FA1F).contains(v)
    }
}
