import Foundation

/// JSON Lines (docs/FORMATS.md, "Behavior logs"): `behaviors.jsonl` has one object per line, `{"user": "u1",
/// "item": "i9", "timestamp": 1700000000, "label": 1}` (label optional; ids strings or integers); the sibling
/// `items.jsonl` (optional) has `{"item": "i9", "category": "c3", "text": "Toy Story (1995)"}`. Blank lines
/// are skipped; other members are ignored.
enum JSONLines {
    static func read(behaviors path: String, chunkBytes: Int = LogChunks.defaultChunkBytes) throws -> Dataset {
        let file = try LogFile(path: path)
        let (behaviors, forms) = try LogChunks.behaviors(
            of: file, from: file.firstLineStart, firstNumber: 1, chunkBytes: chunkBytes, state: JSONLine.Members.init
        ) { line, members, w in
            guard members.parse(line.bytes) else { throw file.fail(line, "not a JSON object\(line.truncationHint)") }
            let o = members.items
            let user = try id(o, "user", &w.users) { file.fail(line, $0) }
            let item = try id(o, "item", &w.items) { file.fail(line, $0) }
            guard case .number(let n)? = JSONLine.value(o, "timestamp"), case let t = n.double, t.isFinite else {
                throw file.fail(line, "missing or non-numeric \"timestamp\"")
            }
            let label = try self.label(o) { file.fail(line, $0) }
            w.add(user: user, item: item, timestamp: t, label: label, line: line.number)
        }
        guard !behaviors.isEmpty else { throw file.fail(nil, "no behaviors (only blank lines)") }
        let catalog = ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent("items.jsonl")
        var items = forms
        let known = FileManager.default.fileExists(atPath: catalog) ? try self.catalog(catalog, ids: &items) : [:]
        return Dataset(behaviors: behaviors, items: known)
    }

    /// `items.jsonl`; `ids` holds the behaviors' item ids, so the catalog's are checked against them too.
    static func catalog(_ path: String, ids: inout IdentifierForms) throws -> [String: ItemInfo] {
        let file = try LogFile(path: path)
        var items: [String: ItemInfo] = [:], categories = IdentifierForms()
        try forEachObject(file) { line, o in
            let item = try id(o, "item") { file.fail(line, $0) }
            let category = try self.category(o) { file.fail(line, $0) }
            var text: String?
            switch JSONLine.value(o, "text") {
            case nil, .null?: break
            case .string(let s)?: text = s.isEmpty ? nil : s.string
            default: throw file.fail(line, "\"text\" is not a string")
            }
            try ids.check(item, "item", file: file, line: line.number)
            if let category { try categories.check(category, "category", file: file, line: line.number) }
            guard items.updateValue(ItemInfo(category: category, text: text), forKey: item) == nil else {
                throw file.fail(line, "item '\(item)' listed twice")
            }
        }
        return items
    }

    /// An id member: a non-empty string, or an integer (`JSONNumber.idText`).
    static func id(
        _ o: [JSONLine.Member], _ key: StaticString, _ fail: (String) -> Dataset.InputError
    ) throws -> String {
        switch JSONLine.value(o, key) {
        case .string(let s)? where !s.isEmpty: return s.string
        case .number(let n)?: if let t = n.idText { return t }
        default: break
        }
        throw fail("missing or empty \"\(key)\" (a string or an integer)")
    }

    /// `id(o, key, fail)` through `table`: an unescaped string or a non-negative integer literal (its digits
    /// are the id) is interned by its bytes; another id is made anew. `isNew` on the first occurrence of the
    /// id's bytes only.
    @inline(__always)
    static func id(
        _ o: [JSONLine.Member], _ key: StaticString, _ table: inout IdTable, _ fail: (String) -> Dataset.InputError
    ) throws -> (id: String, isNew: Bool) {
        switch JSONLine.value(o, key) {
        case .string(let s)? where !s.escaped && !s.raw.isEmpty: return table.intern(s.raw)
        case .number(let n)? where n.isIntegerLiteral && n.literal.first != 0x2D: return table.intern(n.literal)
        default:
            let id = try id(o, key, fail)
            return (id, table.isFirst(id))
        }
    }

    /// The `label` member: absent or null (unknown), a boolean, or a number (> 0 is a click).
    static func label(
        _ o: [JSONLine.Member], _ fail: (String) -> Dataset.InputError
    ) throws -> Bool? {
        switch JSONLine.value(o, "label") {
        case nil, .null?: return nil
        case .bool(let b)?: return b
        case .number(let v)?: return v.double > 0
        default: throw fail("\"label\" is not a number or boolean")
        }
    }

    /// The `category` member: absent, null or empty (none), a string, or an integer (`JSONNumber.idText`).
    static func category(
        _ o: [JSONLine.Member], _ fail: (String) -> Dataset.InputError
    ) throws -> String? {
        switch JSONLine.value(o, "category") {
        case nil, .null?: return nil
        case .string(let s)?: return s.isEmpty ? nil : s.string
        case .number(let n)? where n.idText != nil: return n.idText
        default: throw fail("\"category\" is not a string or an integer")
        }
    }

    /// Each non-blank line as a JSON object, or the error naming the line.
    private static func forEachObject(
        _ file: LogFile, _ body: (LogFile.Line, [JSONLine.Member]) throws -> Void
    ) throws {
        let members = JSONLine.Members()
        try file.forEachLine { line in
            guard !line.isBlank else { return }
            guard members.parse(line.bytes) else { throw file.fail(line, "not a JSON object\(line.truncationHint)") }
            try body(line, members.items)
        }
    }
}
