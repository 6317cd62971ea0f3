import Foundation
import Tensors

/// One behavior: user `user` interacted with `item` at `timestamp`; `label` is the click (if the log has one).
public struct Behavior: Sendable, Equatable {
    public var user: String
    public var item: String
    public var timestamp: Double
    public var label: Bool?

    public init(user: String, item: String, timestamp: Double, label: Bool? = nil) {
        self.user = user
        self.item = item
        self.timestamp = timestamp
        self.label = label
    }

    /// MODEL.md order: timestamps as numbers, ties by the raw item id compared as UTF-8 bytes.
    public static func precedes(_ a: Behavior, _ b: Behavior) -> Bool {
        if a.timestamp != b.timestamp { return a.timestamp < b.timestamp }
        return a.item.precedesInByteOrder(b.item)
    }
}

/// What the catalog says about an item.
public struct ItemInfo: Sendable, Equatable {
    public var category: String?
    public var text: String?
    public init(category: String? = nil, text: String? = nil) {
        self.category = category
        self.text = text
    }
}

/// A behavior log and its item catalog, read from RecBole atomic files or JSON Lines.
public struct Dataset: Sendable {
    public var behaviors: [Behavior]
    public var items: [String: ItemInfo]

    public init(behaviors: [Behavior], items: [String: ItemInfo]) {
        self.behaviors = behaviors
        self.items = items
    }

    /// An input problem, naming the file and (when there is one) the line.
    public struct InputError: Error, CustomStringConvertible, Sendable {
        public let file: String
        public let line: Int?
        public let message: String
        public var description: String { "\(file)\(line.map { ":\($0)" } ?? ""): \(message)" }
    }

    /// Reads `path`: a RecBole dataset folder (`NAME.inter` + optional `NAME.item`, NAME = folder name), a
    /// `.inter` file, a JSON Lines folder (`behaviors.jsonl` + optional `items.jsonl`) or a `.jsonl` file.
    /// `ratingThreshold` turns a `rating` field into a click label (rating ≥ threshold).
    public static func load(_ path: String, ratingThreshold: Double = 4) throws -> Dataset {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw InputError(file: path, line: nil, message: "no such file or folder")
        }
        let url = URL(fileURLWithPath: path)
        if isDir.boolValue {
            let name = url.lastPathComponent
            let inter = url.appendingPathComponent("\(name).inter").path
            let jsonl = url.appendingPathComponent("behaviors.jsonl").path
            if FileManager.default.fileExists(atPath: inter) {
                return try loadRecBole(inter: inter, ratingThreshold: ratingThreshold)
            }
            if FileManager.default.fileExists(atPath: jsonl) { return try loadJSONLines(behaviors: jsonl) }
            throw InputError(
                file: path, line: nil,
                message: "neither \(name).inter (RecBole) nor behaviors.jsonl (JSON Lines) is in this folder")
        }
        switch url.pathExtension {
        case "inter": return try loadRecBole(inter: path, ratingThreshold: ratingThreshold)
        case "jsonl": return try loadJSONLines(behaviors: path)
        default:
            throw InputError(
                file: path, line: nil,
                message: "unknown input format (expected a .inter or .jsonl file, or a dataset folder)")
        }
    }

    // MARK: RecBole atomic files

    /// RecBole atomic files: tab-separated, a header of `name:type` fields. `.inter` needs `user_id`, `item_id`,
    /// `timestamp` (optional `rating` or `label`); the sibling `.item` needs `item_id` and may have a category
    /// field (`class`, `categories`, `category`, `genre`; first token) and a text field (`title`,
    /// `movie_title`, `name`; with `release_year` or `year` appended as "Title (1995)").
    static func loadRecBole(inter: String, ratingThreshold: Double) throws -> Dataset {
        let rows = try TSVFile(path: inter)
        let user = try rows.column("user_id"), item = try rows.column("item_id"), ts = try rows.column("timestamp")
        let rating = rows.optionalColumn("rating"), label = rows.optionalColumn("label")
        var behaviors: [Behavior] = []
        behaviors.reserveCapacity(rows.count)
        try rows.forEach { line, f in
            guard let t = Double(f[ts]), t.isFinite else {
                throw InputError(file: inter, line: line, message: "timestamp '\(f[ts])' is not a number")
            }
            var click: Bool?
            if let label {
                guard let v = Double(f[label]) else {
                    throw InputError(file: inter, line: line, message: "label '\(f[label])' is not a number")
                }
                click = v > 0
            } else if let rating {
                guard let v = Double(f[rating]) else {
                    throw InputError(file: inter, line: line, message: "rating '\(f[rating])' is not a number")
                }
                click = v >= ratingThreshold
            }
            guard !f[user].isEmpty, !f[item].isEmpty else {
                throw InputError(file: inter, line: line, message: "empty user_id or item_id")
            }
            behaviors.append(Behavior(user: f[user], item: f[item], timestamp: t, label: click))
        }
        guard !behaviors.isEmpty else {
            throw InputError(file: inter, line: nil, message: "no behaviors (only a header)")
        }
        var items: [String: ItemInfo] = [:]
        let itemPath = (inter as NSString).deletingPathExtension + ".item"
        if FileManager.default.fileExists(atPath: itemPath) {
            let t = try TSVFile(path: itemPath)
            let id = try t.column("item_id")
            let cat = ["class", "categories", "category", "genre"].lazy.compactMap { t.optionalColumn($0) }.first
            let title = ["title", "movie_title", "name"].lazy.compactMap { t.optionalColumn($0) }.first
            let year = ["release_year", "year"].lazy.compactMap { t.optionalColumn($0) }.first
            try t.forEach { line, f in
                var text = title.map { f[$0] }
                if let y = year, !f[y].isEmpty, let tx = text { text = "\(tx) (\(f[y]))" }
                let category = cat.flatMap { f[$0].split(separator: " ").first.map(String.init) }
                guard items.updateValue(ItemInfo(category: category, text: text), forKey: f[id]) == nil else {
                    throw InputError(file: itemPath, line: line, message: "item '\(f[id])' listed twice")
                }
            }
        }
        return Dataset(behaviors: behaviors, items: items)
    }

    // MARK: JSON Lines

    /// JSON Lines: `behaviors.jsonl` has one object per line, `{"user": "u1", "item": "i9", "timestamp":
    /// 1700000000, "label": 1}` (label optional; ids may be strings or integers); the sibling `items.jsonl`
    /// (optional) has `{"item": "i9", "category": "c3", "text": "Toy Story (1995)"}`.
    static func loadJSONLines(behaviors path: String) throws -> Dataset {
        var behaviors: [Behavior] = []
        try forEachJSONLine(path) { line, o in
            func id(_ key: String) throws -> String {
                if let s = o[key] as? String, !s.isEmpty { return s }
                if let n = o[key] as? NSNumber, Double(n.int64Value) == n.doubleValue { return String(n.int64Value) }
                throw InputError(
                    file: path, line: line, message: "missing or empty \"\(key)\" (a string or an integer)")
            }
            guard let t = (o["timestamp"] as? NSNumber)?.doubleValue, t.isFinite else {
                throw InputError(file: path, line: line, message: "missing or non-numeric \"timestamp\"")
            }
            var label: Bool?
            if let l = o["label"] {
                guard let n = l as? NSNumber else {
                    throw InputError(file: path, line: line, message: "\"label\" is not a number or boolean")
                }
                label = n.doubleValue > 0
            }
            behaviors.append(Behavior(user: try id("user"), item: try id("item"), timestamp: t, label: label))
        }
        guard !behaviors.isEmpty else { throw InputError(file: path, line: nil, message: "no behaviors (empty file)") }
        var items: [String: ItemInfo] = [:]
        let itemsPath = ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent("items.jsonl")
        if FileManager.default.fileExists(atPath: itemsPath) {
            try forEachJSONLine(itemsPath) { line, o in
                guard let item = (o["item"] as? String) ?? (o["item"] as? NSNumber)?.stringValue else {
                    throw InputError(file: itemsPath, line: line, message: "missing \"item\"")
                }
                items[item] = ItemInfo(
                    category: (o["category"] as? String) ?? (o["category"] as? NSNumber)?.stringValue,
                    text: o["text"] as? String)
            }
        }
        return Dataset(behaviors: behaviors, items: items)
    }

    private static func forEachJSONLine(_ path: String, _ body: (Int, [String: Any]) throws -> Void) throws {
        let lines = try Lines(path: path)
        for (n, line) in lines.lines where !line.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) {
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                let hint = n == lines.lines.last?.0 && !lines.endsWithNewline ? " (truncated last line?)" : ""
                throw InputError(file: path, line: n, message: "not a JSON object\(hint)")
            }
            try body(n, o)
        }
    }
}

/// A text file split into numbered lines, rejecting broken UTF-8 with the line it occurs on.
struct Lines {
    let lines: [(Int, Substring)]
    let endsWithNewline: Bool

    init(path: String) throws {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw Dataset.InputError(file: path, line: nil, message: "cannot read (\(error.localizedDescription))")
        }
        guard !data.isEmpty else { throw Dataset.InputError(file: path, line: nil, message: "empty file") }
        guard let text = String(validating: data, as: UTF8.self) else {
            // Find the first line that is not valid UTF-8.
            var line = 1, start = data.startIndex
            for i in data.indices where data[i] == 0x0A {
                if String(validating: data[start..<i], as: UTF8.self) == nil { break }
                line += 1
                start = i + 1
            }
            throw Dataset.InputError(file: path, line: line, message: "not valid UTF-8")
        }
        endsWithNewline = text.hasSuffix("\n")
        var out: [(Int, Substring)] = []
        for (i, l) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if i > 0 || !l.isEmpty { out.append((i + 1, l.hasSuffix("\r") ? l.dropLast() : l)) }
        }
        if endsWithNewline, out.last?.1.isEmpty == true { out.removeLast() }
        lines = out
    }
}

/// A RecBole atomic file: tab-separated with a `name:type` header.
struct TSVFile {
    let path: String
    let names: [String]
    let body: ArraySlice<(Int, Substring)>
    let lines: Lines
    var count: Int { body.count }

    init(path: String) throws {
        self.path = path
        lines = try Lines(path: path)
        guard let header = lines.lines.first else {
            throw Dataset.InputError(file: path, line: nil, message: "empty file")
        }
        names = header.1.split(separator: "\t", omittingEmptySubsequences: false).map {
            String($0.split(separator: ":", maxSplits: 1).first ?? "")
        }
        body = lines.lines.dropFirst()
    }

    func column(_ name: String) throws -> Int {
        guard let i = names.firstIndex(of: name) else {
            throw Dataset.InputError(
                file: path, line: 1, message: "missing column '\(name)' (header has \(names.joined(separator: ", ")))")
        }
        return i
    }

    func optionalColumn(_ name: String) -> Int? { names.firstIndex(of: name) }

    func forEach(_ visit: (Int, [String]) throws -> Void) throws {
        for (n, line) in body where !line.isEmpty {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count == names.count else {
                let truncated = n == lines.lines.last?.0 && !lines.endsWithNewline ? " (truncated last line?)" : ""
                throw Dataset.InputError(
                    file: path, line: n,
                    message: "expected \(names.count) tab-separated fields, found \(f.count)\(truncated)")
            }
            try visit(n, f)
        }
    }
}
