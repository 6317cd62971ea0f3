import Errors
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

    /// Source `name`'s committed offset, or nil when the store has applied nothing of it. A value that is not
    /// an offset as this store writes them (`parseSourceOffset`) is `damaged`: a store never guesses where a
    /// stream stands, since reading the source again from its start would replay what it already holds.
    public func sourceOffset(_ name: String) throws -> Int64? {
        let value = try environment.read { txn in
            try txn.get(metaDatabase, Self.sourceKey(name)) { Array($0) }
        }
        guard let value else { return nil }
        guard let offset = Self.parseSourceOffset(value) else {
            throw LifelongError(
                .damaged,
                message: "\(path): the offset of source '\(name)' (meta key '\(Self.sourceKey(name))') is damaged: "
                    + "'\(String(decoding: value.prefix(40), as: UTF8.self))' is not an integer ≥ 0; the store cannot "
                    + "tell which of the source's events it holds")
        }
        return offset
    }

    /// An offset as `putSourceOffset` writes it: the decimal digits of an integer in 0...Int64.max, without
    /// sign, spaces or leading zeros; nil for anything else.
    package static func parseSourceOffset(_ bytes: some Collection<UInt8>) -> Int64? {
        guard (1...19).contains(bytes.count), bytes.allSatisfy({ (0x30...0x39).contains($0) }),
            bytes.count == 1 || bytes.first != 0x30
        else { return nil }
        return Int64(String(decoding: bytes, as: UTF8.self))
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
