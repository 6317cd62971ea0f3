import Foundation

/// One Unicode normalization form per id (docs/FORMATS.md, "Behavior logs"). The store and the Python package
/// compare ids as bytes; Swift's `String` compares them as text, where `"é"` (U+00E9) and `"é"` (e + U+0301)
/// are equal. A log holding both would be two users (or items, or categories) in the store and in PyTorch, and
/// one in the Swift encoder's and trainer's tables, so the readers refuse it, naming both spellings.
///
/// Only ids with a non-ASCII byte are looked at: an ASCII id equals another as text exactly when its bytes do.
struct IdentifierForms {
    private var first: [String: (id: String, file: String, line: Int)] = [:]

    /// Records `id` (a `kind` id on `line` of `file`), or throws when an earlier id is the same text in
    /// another form.
    mutating func check(_ id: String, _ kind: String, file: LogFile, line: Int) throws {
        guard !id.utf8.allSatisfy({ $0 < 0x80 }) else { return }
        guard let prior = first[id] else {
            first[id] = (id, (file.path as NSString).lastPathComponent, line)
            return
        }
        guard !prior.id.utf8.elementsEqual(id.utf8) else { return }
        throw file.fail(
            line,
            "\(kind) '\(id)' is '\(prior.id)' (line \(prior.line) of \(prior.file)) in another Unicode "
                + "normalization form: write every id in one form (NFC)")
    }
}
