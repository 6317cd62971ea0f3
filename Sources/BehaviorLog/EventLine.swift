/// One event of a stream (`lifelong ingest`): a JSON Lines object `{"user", "item", "timestamp", "label"?,
/// "category"?, "offset"?}` read by the log rules of `behaviors.jsonl` (docs/FORMATS.md), plus an offset — an
/// integer ≥ 0 that grows from event to event, the line number when the member is absent.
public struct EventLine: Sendable, Equatable {
    public var behavior: Behavior
    public var category: String?
    public var offset: Int64

    /// Parses one line (without its line end) of `file`, line number `line`; nil for a blank line.
    public static func parse(_ bytes: UnsafeRawBufferPointer, file: String, line: Int) throws -> EventLine? {
        let text = LogFile.Line(number: line, bytes: bytes, isUnterminatedLast: false)
        guard !text.isBlank else { return nil }
        func fail(_ reason: String) -> Dataset.InputError { Dataset.InputError(file: file, line: line, reason: reason) }
        let members = JSONLine.Members()
        guard members.parse(bytes) else { throw fail("not a JSON object") }
        let o = members.items
        defer { withExtendedLifetime(members) {} }  // `o` lends the scratch of `members`
        let user = try JSONLines.id(o, "user", fail), item = try JSONLines.id(o, "item", fail)
        guard case .number(let n)? = JSONLine.value(o, "timestamp"), n.double.isFinite else {
            throw fail("missing or non-numeric \"timestamp\"")
        }
        let label = try JSONLines.label(o, fail), category = try JSONLines.category(o, fail)
        var offset = Int64(line)
        switch JSONLine.value(o, "offset") {
        case nil, .null?: break
        case .number(let v)? where v.isIntegerLiteral && !v.literal.string.hasPrefix("-"):
            guard let o = Int64(v.literal.string) else { throw fail("\"offset\" is past 2^63 − 1") }
            offset = o
        default: throw fail("\"offset\" is not an integer ≥ 0")
        }
        return EventLine(
            behavior: Behavior(user: user, item: item, timestamp: n.double, label: label), category: category,
            offset: offset)
    }
}
