public import BehaviorLog
import LMDB
public import Model

extension Dataset {
    /// The ids a model over this log needs: every item of the catalog and of the behaviors, and every catalog
    /// category, each in UTF-8 byte order (rows 1… of `vocab.tsv`, as `init-model` and `train` assign them).
    public var vocabularyIds: (items: [String], categories: [String]) {
        var items = Set(self.items.keys)
        for b in behaviors { items.insert(b.item) }
        let categories = Set(self.items.values.compactMap(\.category))
        let byteOrder: (String, String) -> Bool = { $0.precedesInByteOrder($1) }
        return (items.sorted(by: byteOrder), categories.sorted(by: byteOrder))
    }
}

extension ModelBundle {
    /// A randomly initialised bundle whose vocabulary is `data`'s (see `Dataset.vocabularyIds`), loaded back.
    @discardableResult
    public static func writeRandom(
        to folder: String, for data: Dataset, shape: Shape, seed: UInt64
    ) throws -> ModelBundle {
        let ids = data.vocabularyIds
        try writeRandom(to: folder, items: ids.items, categories: ids.categories, shape: shape, seed: seed)
        return try ModelBundle(folder: folder)
    }
}
