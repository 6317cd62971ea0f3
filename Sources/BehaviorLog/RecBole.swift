import Foundation

/// RecBole atomic files (docs/FORMATS.md, "Behavior logs"): tab-separated, line 1 a header of `name:type`
/// fields. `.inter` needs `user_id`, `item_id`, `timestamp` (optional `label`, else `rating`); the sibling
/// `.item` needs `item_id` and may have a category field (`class`, `categories`, `category`, `genre`: its
/// first space-separated token) and a text field (`title`, `movie_title`, `name`; with `release_year` or
/// `year` appended as "Title (1995)"). Every field is taken without the spaces around it.
enum RecBole {
    static func read(
        inter path: String, ratingThreshold: Double, chunkBytes: Int = LogChunks.defaultChunkBytes
    ) throws -> Dataset {
        let file = try LogFile(path: path)
        let (table, next) = try file.firstLine { try Table(header: $0, of: file) }
        let c = (
            user: try table.column("user_id"), item: try table.column("item_id"), time: try table.column("timestamp"),
            label: table.optionalColumn("label"), rating: table.optionalColumn("rating")
        )
        let expected = table.names.count
        let (behaviors, forms) = try LogChunks.behaviors(
            of: file, from: next, firstNumber: 2, chunkBytes: chunkBytes, state: Fields.init
        ) { line, f, w in
            f.split(line.bytes)
            guard f.count == expected else {
                throw file.fail(
                    line, "expected \(expected) tab-separated fields, found \(f.count)\(line.truncationHint)")
            }
            let user = f[c.user], item = f[c.item]
            guard !user.isEmpty, !item.isEmpty else { throw file.fail(line, "empty user_id or item_id") }
            let timestamp = try number(f[c.time], "timestamp", file, line)
            var click: Bool?
            if let label = c.label {
                click = try number(f[label], "label", file, line) > 0
            } else if let rating = c.rating {
                click = try number(f[rating], "rating", file, line) >= ratingThreshold
            }
            w.add(
                user: w.users.intern(user), item: w.items.intern(item), timestamp: timestamp, label: click,
                line: line.number)
        }
        guard !behaviors.isEmpty else { throw file.fail(nil, "no behaviors (only a header)") }
        let catalog = (path as NSString).deletingPathExtension + ".item"
        var items = forms
        let known = FileManager.default.fileExists(atPath: catalog) ? try self.catalog(catalog, ids: &items) : [:]
        return Dataset(behaviors: behaviors, items: known)
    }

    /// The `.item` file; `ids` holds the behaviors' item ids, so the catalog's are checked against them too.
    static func catalog(_ path: String, ids: inout IdentifierForms) throws -> [String: ItemInfo] {
        let file = try LogFile(path: path)
        var items: [String: ItemInfo] = [:], categories = IdentifierForms()
        var columns: (id: Int, category: Int?, title: Int?, year: Int?)?
        try Table.forEachRow(of: file) { table in
            func first(_ names: [String]) -> Int? { names.lazy.compactMap(table.optionalColumn).first }
            columns = (
                try table.column("item_id"), first(["class", "categories", "category", "genre"]),
                first(["title", "movie_title", "name"]), first(["release_year", "year"])
            )
        } row: { line, f in
            let c = columns!
            let id = f[c.id]
            guard !id.isEmpty else { throw file.fail(line, "empty item_id") }
            let category = c.category.flatMap {
                f[$0].split(separator: 0x20).first.map { String(decoding: $0, as: UTF8.self) }
            }
            var text = c.title.map { f[$0] }.flatMap { $0.isEmpty ? nil : $0.string }
            if let title = text, let y = c.year, !f[y].isEmpty { text = "\(title) (\(f[y].string))" }
            let key = id.string
            try ids.check(key, "item", file: file, line: line.number)
            if let category { try categories.check(category, "category", file: file, line: line.number) }
            guard items.updateValue(ItemInfo(category: category, text: text), forKey: key) == nil else {
                throw file.fail(line, "item '\(key)' listed twice")
            }
        }
        return items
    }

    /// A number field, or the error naming the field, its text and the line.
    private static func number(
        _ field: UnsafeRawBufferPointer, _ name: String, _ file: LogFile, _ line: LogFile.Line
    ) throws -> Double {
        guard let v = DecimalNumber.parse(field) else {
            throw file.fail(line, "\(name) '\(field.string)' is not a number")
        }
        return v
    }
}

/// A RecBole file's header: the column names (the part of each header field before its first `:`).
struct Table {
    let path: String
    let names: [String]

    init(path: String, names: [String]) {
        self.path = path
        self.names = names
    }

    func column(_ name: String) throws -> Int {
        guard let i = names.firstIndex(of: name) else {
            throw Dataset.InputError(
                file: path, line: 1, reason: "missing column '\(name)' (header has \(names.joined(separator: ", ")))")
        }
        return i
    }

    func optionalColumn(_ name: String) -> Int? { names.firstIndex(of: name) }

    /// The header of `file`: line 1's fields, each name the part before its first `:`, without spaces.
    init(header line: LogFile.Line, of file: LogFile) throws {
        guard !line.isBlank else { throw file.fail(line, "the header is empty") }
        var fields = Fields()
        fields.split(line.bytes)
        let names = (0..<fields.count).map {
            let name = fields[$0].split(separator: 0x3A, maxSplits: 1, omittingEmptySubsequences: false)[0]
            return String(decoding: name, as: UTF8.self).trimmingCharacters(in: [" "])
        }
        self.init(path: file.path, names: names)
    }

    /// Reads the header (line 1) into `header`, then each non-blank line's fields — exactly as many as the
    /// header has, each without its surrounding spaces — into `row`. Fields are lent to the closure.
    static func forEachRow(
        of file: LogFile, header: (Table) throws -> Void,
        row: (LogFile.Line, Fields) throws -> Void
    ) throws {
        let (table, next) = try file.firstLine { try Table(header: $0, of: file) }
        try header(table)
        var fields = Fields()
        let expected = table.names.count
        try file.forEachLine(in: next..<file.byteCount, firstNumber: 2) { line in
            guard !line.isBlank else { return }
            fields.split(line.bytes)
            guard fields.count == expected else {
                throw file.fail(
                    line, "expected \(expected) tab-separated fields, found \(fields.count)\(line.truncationHint)")
            }
            try row(line, fields)
        }
    }
}

/// The tab-separated fields of one line, each without its surrounding spaces; reused from line to line.
struct Fields {
    private var ranges: [Range<Int>] = []
    private var line = UnsafeRawBufferPointer(start: nil, count: 0)

    var count: Int { ranges.count }

    subscript(_ i: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: line[ranges[i]]).trimmingSpaces
    }

    mutating func split(_ bytes: UnsafeRawBufferPointer) {
        line = bytes
        ranges.removeAll(keepingCapacity: true)
        guard let base = bytes.baseAddress else { return ranges.append(0..<0) }
        var start = 0
        while let tab = memchr(base + start, 0x09, bytes.count - start) {
            let i = base.distance(to: UnsafeRawPointer(tab))
            ranges.append(start..<i)
            start = i + 1
        }
        ranges.append(start..<bytes.count)
    }
}

extension LogFile {
    func fail(_ line: Line, _ reason: String) -> Dataset.InputError { fail(line.number, reason) }
}
