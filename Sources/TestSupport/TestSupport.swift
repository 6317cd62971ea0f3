public import Foundation

/// Where the tests find the repository's files and make their scratch folders. Linked by test targets only.
public enum Repository {
    /// The repository root, found from this file's path (`Sources/TestSupport/…`).
    public static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `Fixtures/NAME` (committed test data, provenance in `Fixtures/README.md`).
    public static func fixture(_ name: String) -> URL {
        root.appendingPathComponent("Fixtures").appendingPathComponent(name)
    }

    /// `Fixtures/golden/NAME`.
    public static func golden(_ name: String) -> URL { fixture("golden").appendingPathComponent(name) }

    /// The data folder `Tools/setup.sh` fills (`LIFELONG_DATA` overrides it, as in set-up).
    public static var data: String {
        ProcessInfo.processInfo.environment["LIFELONG_DATA"] ?? root.appendingPathComponent("Data").path
    }

    /// all-MiniLM-L6-v2 as set-up fetches it.
    public static var miniLM: String { data + "/all-MiniLM-L6-v2" }

    /// MovieLens-100K as set-up fetches it.
    public static var movieLens: String { data + "/ml-100k" }
}

/// A new, unique path under the system's temporary folder (`lifelong-NAME-UUID`); `create` makes the folder.
public func temporaryFolder(_ name: String = "test", create: Bool = false) -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("lifelong-\(name)-\(UUID().uuidString)")
        .path
    if create { try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
    return path
}
