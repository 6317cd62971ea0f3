import Foundation

/// A log file's bytes under the file rules every log format shares (docs/FORMATS.md, "Behavior logs"):
/// UTF-8 throughout (the first invalid byte is reported with its line), a byte order mark at the start
/// ignored, lines ended by LF or CRLF, a file of 0 bytes refused.
///
/// Read once, validated once; lines and fields are then byte ranges of the one buffer, lent to closures.
struct LogFile: Sendable {
    let path: String
    private let data: Data
    /// Where line 1 starts: after the byte order mark, if there is one.
    private let start: Int

    init(path: String) throws {
        self.path = path
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw Dataset.InputError(file: path, line: nil, reason: "cannot read (\(error.localizedDescription))")
        }
        guard !data.isEmpty else { throw Dataset.InputError(file: path, line: nil, reason: "empty file") }
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        start = data.starts(with: bom) ? 3 : 0
        let invalid = data.withUnsafeBytes { UTF8Check.firstInvalidByte(in: $0) }
        if let invalid {
            let line = data.withUnsafeBytes { bytes in
                1 + UnsafeRawBufferPointer(rebasing: bytes[..<invalid]).reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            }
            throw Dataset.InputError(file: path, line: line, reason: "not valid UTF-8")
        }
    }

    /// Line feeds in `range` of the file's bytes.
    func lineFeeds(in range: Range<Int>) -> Int {
        data.withUnsafeBytes { all in
            guard var at = all.baseAddress.map({ $0 + range.lowerBound }) else { return 0 }
            let end = all.baseAddress! + range.upperBound
            var n = 0
            while at < end, let lf = memchr(at, 0x0A, end - at) {
                n += 1
                at = UnsafeRawPointer(lf) + 1
            }
            return n
        }
    }

    /// `range` cut into about `parts` pieces of at least `minimum` bytes, each starting at a line start.
    func chunks(of range: Range<Int>, parts: Int, minimum: Int) -> [Range<Int>] {
        let count = max(1, min(parts, range.count / max(minimum, 1)))
        guard count > 1 else { return [range] }
        return data.withUnsafeBytes { all in
            var bounds = [range.lowerBound]
            for k in 1..<count {
                let guess = max(range.lowerBound + k * (range.count / count), bounds.last!)
                guard guess < range.upperBound,
                    let lf = memchr(all.baseAddress! + guess, 0x0A, range.upperBound - guess)
                else { break }
                let next = UnsafeRawPointer(lf) - all.baseAddress! + 1
                if next < range.upperBound, next > bounds.last! { bounds.append(next) }
            }
            bounds.append(range.upperBound)
            return zip(bounds, bounds.dropFirst()).map { $0..<$1 }
        }
    }

    /// One line: its 1-based number and its bytes without the line end. Lent to the closure only.
    struct Line {
        let number: Int
        let bytes: UnsafeRawBufferPointer
        /// The file's last line, not ended by a line feed (an error on it may mean the file was cut short).
        let isUnterminatedLast: Bool

        /// Empty, or only spaces and tabs: skipped by every reader.
        var isBlank: Bool { bytes.allSatisfy { $0 == 0x20 || $0 == 0x09 } }

        /// ` (truncated last line?)` for an error on an unterminated last line, else "".
        var truncationHint: String { isUnterminatedLast ? " (truncated last line?)" : "" }
    }

    /// Every line in order, blank ones included (a reader decides what a blank line 1 means). A line feed
    /// ends a line; text after the last one is a last line of its own, and a file that is only a byte order
    /// mark is one empty line.
    func forEachLine(_ body: (Line) throws -> Void) throws {
        if start == data.count { return try firstLine(body).0 }
        try forEachLine(in: start..<data.count, firstNumber: 1, body)
    }

    /// The lines starting in `range` (which starts at a line start), numbered from `firstNumber`.
    func forEachLine(in range: Range<Int>, firstNumber: Int, _ body: (Line) throws -> Void) throws {
        try data.withUnsafeBytes { all in
            var at = range.lowerBound, number = firstNumber
            while at < range.upperBound {
                let (line, next) = Self.line(in: all, at: at, end: range.upperBound, number: number)
                try body(line)
                at = next
                number += 1
            }
        }
    }

    /// Line 1 (the first line of a file that is only a byte order mark is empty) and where line 2 starts.
    func firstLine<R>(_ body: (Line) throws -> R) throws -> (R, next: Int) {
        try data.withUnsafeBytes { all in
            let (line, next) = Self.line(in: all, at: start, end: all.count, number: 1)
            return (try body(line), next)
        }
    }

    /// The line starting at `at` (up to its line feed, or `end`; a CR before the LF dropped) and where the
    /// next one starts.
    @inline(__always)
    private static func line(
        in all: UnsafeRawBufferPointer, at: Int, end: Int, number: Int
    ) -> (Line, next: Int) {
        let base = all.baseAddress!
        let newline = memchr(base + at, 0x0A, end - at).map { UnsafeRawPointer($0) - base }
        var lineEnd = newline ?? end
        if lineEnd > at, all[lineEnd - 1] == 0x0D { lineEnd -= 1 }
        let line = Line(
            number: number, bytes: UnsafeRawBufferPointer(rebasing: all[at..<lineEnd]),
            isUnterminatedLast: newline == nil)
        return (line, newline.map { $0 + 1 } ?? end)
    }

    /// The file's size in bytes.
    var byteCount: Int { data.count }

    /// Where the lines of the file start (after a byte order mark).
    var firstLineStart: Int { start }

    func fail(_ line: Int?, _ reason: String) -> Dataset.InputError {
        Dataset.InputError(file: path, line: line, reason: reason)
    }
}

/// UTF-8 validation as RFC 3629 defines it (no overlong forms, no surrogates, nothing past U+10FFFF), with
/// an ASCII fast path of 8 bytes per step.
enum UTF8Check {
    /// The offset of the first byte that does not begin a valid UTF-8 sequence; nil for valid UTF-8.
    static func firstInvalidByte(in bytes: UnsafeRawBufferPointer) -> Int? {
        let n = bytes.count
        var i = 0
        while i < n {
            if i + 8 <= n, bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                i += 8
                continue
            }
            let lead = bytes[i]
            if lead < 0x80 {
                i += 1
                continue
            }
            guard let length = sequenceLength(bytes, at: i) else { return i }
            i += length
        }
        return nil
    }

    /// The length of the valid multi-byte sequence at `i`, or nil.
    private static func sequenceLength(_ bytes: UnsafeRawBufferPointer, at i: Int) -> Int? {
        let lead = bytes[i]
        let length: Int, lowest: UInt32
        var code: UInt32
        switch lead {
        case 0xC2...0xDF: (length, lowest, code) = (2, 0x80, UInt32(lead & 0x1F))
        case 0xE0...0xEF: (length, lowest, code) = (3, 0x800, UInt32(lead & 0x0F))
        case 0xF0...0xF4: (length, lowest, code) = (4, 0x1_0000, UInt32(lead & 0x07))
        default: return nil
        }
        guard i + length <= bytes.count else { return nil }
        for k in 1..<length {
            let c = bytes[i + k]
            guard c & 0xC0 == 0x80 else { return nil }
            code = code << 6 | UInt32(c & 0x3F)
        }
        guard code >= lowest, code <= 0x10_FFFF, !(0xD800...0xDFFF).contains(code) else { return nil }
        return length
    }
}

extension UnsafeRawBufferPointer {
    /// The bytes as a String (already valid UTF-8: the file was checked once).
    var string: String { String(decoding: self, as: UTF8.self) }

    /// Without spaces (0x20) at either end.
    var trimmingSpaces: UnsafeRawBufferPointer {
        var lo = 0, hi = count
        while lo < hi, self[lo] == 0x20 { lo += 1 }
        while hi > lo, self[hi - 1] == 0x20 { hi -= 1 }
        return UnsafeRawBufferPointer(rebasing: self[lo..<hi])
    }
}
