// swift-tools-version:6.1
//
// Lifelong: long-sequence user-behavior modeling (SDIM + BAHE) in Swift.
// Data flow, by folder:  Sources/CLMDB, CBLAS (Debian C libraries) → LMDB (storage layer) → … → Tools/lifelong (CLI).
import PackageDescription

let package = Package(
    name: "Lifelong",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "LMDB", targets: ["LMDB"]),
        .library(name: "Lifelong", targets: ["Model", "Store", "TextEncoder", "Encoder", "Scorer", "Replay", "Training"]),
        .executable(name: "lifelong", targets: ["lifelong"]),
        .executable(name: "lifelong-bench", targets: ["lifelong-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        // C libraries from Debian, found through pkg-config.
        .systemLibrary(
            name: "CLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"])]
        ),
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),

        // Heap-allocation counter for the benchmarks (interposes malloc; linked into lifelong-bench only).
        .target(name: "CAllocationCounter", path: "Sources/CAllocationCounter"),

        // Hot loops in C, for AVX2 behind a runtime CPU check (Swift compiles for the x86-64 baseline).
        .target(name: "CKernels", path: "Sources/CKernels", cSettings: [.unsafeFlags(["-O3"])]),

        // Storage layer: a typed Swift wrapper over LMDB. CLMDB stays out of its public API.
        .target(name: "LMDB", dependencies: ["CLMDB"]),

        // Model bundle (safetensors + vocab, MODEL.md v1) and the SDIM math.
        .target(name: "Model", dependencies: ["CBLAS", .product(name: "Crypto", package: "swift-crypto")]),
        // Record formats on top of LMDB: versioned, checksummed, model-fingerprinted.
        .target(name: "Store", dependencies: ["LMDB", "CKernels"]),
        // BAHE's atom encoder: BERT WordPiece + the first K layers of all-MiniLM-L6-v2, packed batches over BLAS.
        .target(name: "TextEncoder", dependencies: ["Model", .product(name: "Crypto", package: "swift-crypto")]),
        // The offline BSE job: readers, item dedupe, bucket sums, writes.
        .target(name: "Encoder", dependencies: ["Model", "Store", "TextEncoder", "LMDB"]),
        // The online half: batched SDIM + target attention + MLP over the store, for embedding in a server.
        .target(name: "Scorer", dependencies: ["Model", "Store", "TextEncoder", "Encoder", "LMDB"]),
        // Evaluation: the synthetic long-sequence generator, prequential replay of a log through the scorer,
        // AUC/logloss, and the report (Markdown, JSON, SVG).
        .target(name: "Replay", dependencies: [
            "Model", "Store", "TextEncoder", "Encoder", "Scorer", "LMDB", .product(name: "Histogram", package: "hdrhistogram-swift"),
        ]),
        // The trainer: MODEL.md v1 forward/backward over cached atoms (BAHE), Adam, early stopping on a time split.
        .target(name: "Training", dependencies: ["Model", "CBLAS", "Store", "TextEncoder", "Encoder", "Replay"]),

        // Command-line tool and the release-build benchmarks.
        .executableTarget(
            name: "lifelong",
            dependencies: [
                "LMDB", "Model", "Store", "TextEncoder", "Encoder", "Scorer", "Replay", "Training",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tools/lifelong"
        ),
        .executableTarget(
            name: "lifelong-bench",
            dependencies: [
                "LMDB", "CLMDB", "CAllocationCounter", "Model", "Store", "TextEncoder", "Encoder", "Scorer", "Training",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tools/lifelong-bench"
        ),

        .testTarget(name: "LMDBTests", dependencies: ["LMDB", "CLMDB"]),
        .testTarget(name: "CLITests", dependencies: ["lifelong", "Encoder", "Store", "Model", "Scorer", "LMDB"]),
        .testTarget(name: "EncoderTests", dependencies: ["Model", "Store", "TextEncoder", "Encoder", "LMDB", "CKernels"]),
        .testTarget(name: "ScorerTests", dependencies: ["Model", "Store", "TextEncoder", "Encoder", "Scorer", "LMDB"]),
        .testTarget(name: "TextEncoderTests", dependencies: ["TextEncoder", "Model"]),
        .testTarget(name: "TrainingTests", dependencies: ["Model", "Store", "TextEncoder", "Encoder", "Scorer", "Replay", "Training", "LMDB"]),
        .testTarget(name: "ReplayTests", dependencies: ["Model", "Store", "Encoder", "Scorer", "Replay", "LMDB"]),
    ]
)

// Strict settings for every Swift target, from one place.
for target in package.targets where [.executable, .test, .regular].contains(target.type) {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    settings.append(.enableUpcomingFeature("InternalImportsByDefault"))
    // Invariant checks (table shapes, record layouts) compiled in debug builds only.
    settings.append(.define("LIFELONG_CHECKS", .when(configuration: .debug)))
    target.swiftSettings = settings
}
