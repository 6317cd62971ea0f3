package import LMDB

/// Where each input stream stands (docs/FORMATS.md, "Sources"): `meta` key `source/NAME`, value the decimal
/// offset of the last event of that source the store applied. It is written in the same write transaction
/// as the behaviors it covers, so after any crash it says exactly which events are in the store.
extension Store {
    /// What the `meta` keys of sources begin with.
    package static let sourcePrefix = "source/"

    /// The `meta` key of source `name`.
    package static func sourceKey(_ name: String) -> String { sourcePrefix + name }

    /// A source name: 1–200 bytes of UTF-8 without NUL or `/`.
    public static func isValidSourceName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 200 && !name.utf8.contains(0) && !name.contains("/")
    }

    /// Source `name`'s committed offset, or nil when the store has applied nothing of it.
    public func sourceOffset(_ name: String) throws -> Int64? {
        try environment.read { txn in
            try txn.get(metaDatabase, Self.sourceKey(name)) { Int64(String(decoding: $0, as: UTF8.self)) }
        } ?? nil
    }

    /// Every key and value of the five databases a store always has (meta included), for comparing two
    /// stores byte for byte.
    package func contents() throws -> [String: [[UInt8]: [UInt8]]] {
        var out: [String: [[UInt8]: [UInt8]]] = [:]
        try environment.read { txn in
            for (name, db) in [
                ("meta", metaDatabase), ("items", items), ("item_ids", itemIds), ("users", users),
                ("sequences", sequences),
            ] {
                var d: [[UInt8]: [UInt8]] = [:]
                try txn.scan(db) { k, v in
                    d[Array(k)] = Array(v)
                    return .next
                }
                out[name] = d
            }
        }
        return out
    }

    /// Writes source `name`'s offset inside the caller's write transaction.
    package func putSourceOffset(_ txn: borrowing Transaction, _ name: String, _ offset: Int64) throws {
        try txn.put(metaDatabase, Self.sourceKey(name), String(offset))
    }
}
