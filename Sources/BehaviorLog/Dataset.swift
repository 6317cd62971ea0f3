public import Errors
import Foundation

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

    /// A log that breaks the log rules (docs/FORMATS.md, "Behavior logs"): the file, the 1-based line (nil
    /// when the problem is the whole file or the path) and what is wrong. Always of kind `input`.
    public struct InputError: KindedError {
        public let file: String
        public let line: Int?
        /// What is wrong, without the file and line.
        public let reason: String
        public var kind: ErrorKind { .input }
        /// `FILE:LINE: reason`, as the CLI prints it.
        public var message: String { "\(file)\(line.map { ":\($0)" } ?? ""): \(reason)" }

        public init(file: String, line: Int?, reason: String) {
            self.file = file
            self.line = line
            self.reason = reason
        }
    }

    /// Reads `path` by the log rules of docs/FORMATS.md: a RecBole dataset folder (`NAME.inter` + optional
    /// `NAME.item`, NAME = the folder's name), a `.inter` file, a JSON Lines folder (`behaviors.jsonl` +
    /// optional `items.jsonl`) or a `.jsonl` file. `ratingThreshold` turns a RecBole `rating` into a click
    /// (rating ≥ threshold). Behaviors keep the file's order; the item catalog is read after them.
    /// - Complexity: one pass over each file's bytes; a behaviors file of more than 4 MiB is read in chunks on
    ///   every core, with the same behaviors and the same first error as one pass (`LogChunks`).
    public static func load(_ path: String, ratingThreshold: Double = 4) throws -> Dataset {
        try load(path, ratingThreshold: ratingThreshold, chunkBytes: LogChunks.defaultChunkBytes)
    }

    /// `load` with chunks of at least `chunkBytes` (tests read small files in many chunks).
    package static func load(_ path: String, ratingThreshold: Double = 4, chunkBytes: Int) throws -> Dataset {
        switch try locate(path) {
        case .recBole(let inter):
            return try RecBole.read(inter: inter, ratingThreshold: ratingThreshold, chunkBytes: chunkBytes)
        case .jsonLines(let behaviors): return try JSONLines.read(behaviors: behaviors, chunkBytes: chunkBytes)
        }
    }

    /// Where a log's behaviors are, by its format.
    public enum Location: Sendable, Equatable {
        case recBole(inter: String)
        case jsonLines(behaviors: String)
    }

    /// The behaviors file of `path` (a dataset folder or the file itself), by the layout rules.
    public static func locate(_ path: String) throws -> Location {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw InputError(file: path, line: nil, reason: "no such file or folder")
        }
        let folder = path as NSString
        if isFolder.boolValue {
            let name = folder.lastPathComponent
            let inter = folder.appendingPathComponent("\(name).inter")
            let jsonl = folder.appendingPathComponent("behaviors.jsonl")
            if FileManager.default.fileExists(atPath: inter) { return .recBole(inter: inter) }
            if FileManager.default.fileExists(atPath: jsonl) { return .jsonLines(behaviors: jsonl) }
            throw InputError(
                file: path, line: nil,
                reason: "neither \(name).inter (RecBole) nor behaviors.jsonl (JSON Lines) is in this folder")
        }
        switch folder.pathExtension {
        case "inter": return .recBole(inter: path)
        case "jsonl": return .jsonLines(behaviors: path)
        default:
            throw InputError(
                file: path, line: nil,
                reason: "unknown input format (expected a .inter or .jsonl file, or a dataset folder)")
        }
    }
}
