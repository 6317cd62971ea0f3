/// A named database handle; valid for the lifetime of its environment.
public struct Database: Sendable, Hashable {
    let dbi: UInt32
    public let name: String

    /// The `MDB_dbi` for code that must call LMDB directly (the raw-C comparison benchmark).
    public var rawHandle: UInt32 { dbi }

    public struct Stat: Sendable, Equatable {
        public var entries: Int
        public var depth: Int
        public var pageSize: Int
        public var branchPages: Int
        public var leafPages: Int
        public var overflowPages: Int
        /// Pages of all kinds × page size.
        public var bytes: Int { (branchPages + leafPages + overflowPages) * pageSize }
    }
}
