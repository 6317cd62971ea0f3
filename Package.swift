// swift-tools-version:6.1
//
// Lifelong: long-sequence user-behavior modeling (SDIM + BAHE) in Swift.
// The targets follow the data flow (docs/ARCHITECTURE.md):
//   behavior log → model (atoms, signatures, bucket sums) → store → scorer,
//   with the offline job (encode, append, verify), training and evaluation beside them.
import PackageDescription

let package = Package(
    name: "Lifelong",
    platforms: [.macOS(.v15)],
    products: [
        // What a serving process links to score: the model, the store and the read path. No encoder, no
        // language model, no trainer.
        .library(name: "LifelongScorer", targets: ["Scorer"]),
        // Everything: the offline job, the text encoder, training, evaluation and the replay.
        .library(
            name: "Lifelong",
            targets: [
                "Errors", "BehaviorLog", "Model", "Store", "Scorer", "TextEncoder", "TextAtoms", "Offline",
                "Evaluation", "Replay", "Training",
            ]
        ),
        .library(name: "LMDB", targets: ["LMDB"]),
        // The scorer for C, C++, Java, Go and Python hosts: liblifelong_c.so with Sources/CLifelong/include/lifelong.h.
        // (Named lifelong_c so that `--product lifelong` stays the command-line tool.)
        .library(name: "lifelong_c", type: .dynamic, targets: ["LifelongC"]),
        .executable(name: "lifelong", targets: ["lifelong"]),
        .executable(name: "lifelong-bench", targets: ["lifelong-bench"]),
        // The scoring service (gRPC + HTTP/JSON): its own product, so that nothing above links NIO or gRPC.
        .executable(name: "lifelong-serve", targets: ["lifelong-serve"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        // The scoring service only.
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
    ],
    targets: [
        // C libraries from Debian: LMDB through pkg-config.
        .systemLibrary(name: "CLMDB", pkgConfig: "lmdb", providers: [.apt(["liblmdb-dev"])]),
        // OpenBLAS (Debian's libopenblas0), loaded at run time with the kernels the CPU's feature bits allow.
        .target(name: "COpenBLAS", path: "Sources/COpenBLAS", linkerSettings: [.linkedLibrary("dl")]),
        // Hot loops in C, with AVX2 behind a runtime CPU check (Swift compiles for the x86-64 baseline).
        .target(name: "CKernels", path: "Sources/CKernels", cSettings: [.unsafeFlags(["-O3", "-fno-math-errno"])]),
        // Heap-allocation counter (interposes malloc): the benchmarks and the allocation tests only.
        .target(name: "CAllocationCounter", path: "Sources/CAllocationCounter"),
        // The C ABI's header (lifelong.h, also the library's version) and its thread-local error message.
        .target(name: "CLifelong", path: "Sources/CLifelong"),

        // The error vocabulary every layer's errors adopt (`ErrorKind`, `LifelongError`).
        .target(name: "Errors"),
        // The `\u` escape both strict JSON readers (the log's and the service's) decode.
        .target(name: "JSONText"),
        // Storage layer: a typed Swift wrapper over LMDB. CLMDB stays out of its public API.
        .target(name: "LMDB", dependencies: ["CLMDB", "Errors"]),
        // Tensors and kernels shared by everything numeric: safetensors, BLAS, buffers, the seeded
        // generator, row sums, the stable id hash.
        .target(name: "Tensors", dependencies: ["COpenBLAS", "CKernels", "Errors"]),

        // 1. The behavior log: the log rules (RecBole, JSON Lines), ordering, time split, the synthetic generator.
        .target(name: "BehaviorLog", dependencies: ["Tensors", "Errors", "JSONText"]),
        // 2. The model: bundle, vocabulary, fingerprint, random bundles and the v1/v2 math (embedding,
        //    SimHash, Eq. 12, the bucket update, the MLP input).
        .target(
            name: "Model", dependencies: ["Tensors", "Errors", .product(name: "Crypto", package: "swift-crypto")]),
        // 3. The store: every database, key, record layout, the meta and the shard manifest, over LMDB.
        .target(
            name: "Store",
            dependencies: ["LMDB", "Model", "Tensors", "Errors", .product(name: "Crypto", package: "swift-crypto")]),
        // 4. The scorer's read path: batched SDIM + target attention + MLP over the store.
        .target(name: "Scorer", dependencies: ["Model", "Store", "Tensors", "Errors", "CLifelong"]),

        // BAHE's atom encoder: BERT WordPiece + the first K layers of all-MiniLM-L6-v2.
        .target(
            name: "TextEncoder",
            dependencies: ["Tensors", "Errors", .product(name: "Crypto", package: "swift-crypto")]),
        // BAHE's atom cache: x(text) once per text, in a store's `texts` database.
        .target(name: "TextAtoms", dependencies: ["Store", "TextEncoder", "LMDB", "Errors"]),
        // The offline job: encode, append (the scorer's writer), the sharded append, verify.
        .target(
            name: "Offline",
            dependencies: [
                "BehaviorLog", "Model", "Store", "Scorer", "TextEncoder", "TextAtoms", "LMDB", "Tensors", "Errors",
            ]),
        // AUC and logloss, for the trainer and the replay.
        .target(name: "Evaluation"),
        // Prequential replay of a log through the scorer, and its report.
        .target(
            name: "Replay",
            dependencies: [
                "BehaviorLog", "Model", "Store", "Scorer", "Offline", "TextEncoder", "Evaluation", "LMDB", "Tensors",
                "Errors", .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        // The trainer: v1/v2 forward/backward over cached atoms, Adam, early stopping on a time split.
        .target(
            name: "Training",
            dependencies: [
                "BehaviorLog", "Model", "Store", "Tensors", "TextEncoder", "TextAtoms", "Evaluation", "Errors",
            ]),

        // The C ABI: the functions of lifelong.h in Swift (`@c @implementation`).
        .target(
            name: "LifelongC", dependencies: ["CLifelong", "Errors", "Scorer", "Offline", "Store", "Model", "Tensors"],
            exclude: ["exports.map"],
            linkerSettings: [.unsafeFlags(["-Xlinker", "--version-script=Sources/LifelongC/exports.map"])]),

        // Command-line tool and the release-build benchmarks.
        .executableTarget(
            name: "lifelong",
            dependencies: [
                "BehaviorLog", "Model", "Store", "Scorer", "TextEncoder", "Offline", "Evaluation", "Replay", "Training",
                "LMDB", "Tensors", "Errors", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tools/lifelong"
        ),
        .executableTarget(
            name: "lifelong-bench",
            dependencies: [
                "BehaviorLog", "Model", "Store", "Scorer", "TextEncoder", "TextAtoms", "Offline", "Training", "LMDB",
                "CLMDB",
                "Tensors", "CAllocationCounter", "Service",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tools/lifelong-bench"
        ),

        // The scoring service: one request core (scoring pool, group-commit appends, roll-out, metrics) behind
        // gRPC (Generated/: protoc output of proto/, see docs/SERVING.md) and HTTP/JSON.
        .target(
            name: "Service",
            dependencies: [
                "Scorer", "Offline", "Model", "Store", "LMDB", "Errors", "JSONText",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "DequeModule", package: "swift-collections"),
            ]
        ),
        .executableTarget(
            name: "lifelong-serve",
            dependencies: [
                "Service", "Scorer", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tools/lifelong-serve"
        ),

        // Helpers only the tests use: the repository's folders, temporary folders.
        .target(name: "TestSupport"),
        .testTarget(name: "LMDBTests", dependencies: ["LMDB", "CLMDB", "Errors"]),
        .testTarget(name: "BehaviorLogTests", dependencies: ["BehaviorLog", "Errors", "Tensors", "TestSupport"]),
        .testTarget(name: "ModelTests", dependencies: ["Model", "Store", "Errors", "Tensors", "TestSupport"]),
        .testTarget(
            name: "OfflineTests",
            dependencies: [
                "BehaviorLog", "Model", "Store", "Scorer", "TextEncoder", "TextAtoms", "Offline", "LMDB", "Tensors",
                "CKernels", "Errors", "TestSupport",
            ]
        ),
        .testTarget(
            name: "ScorerTests",
            dependencies: [
                "BehaviorLog", "Model", "Store", "Scorer", "TextEncoder", "Offline", "LMDB", "Tensors", "Errors",
                "CAllocationCounter", "TestSupport",
            ]
        ),
        .testTarget(name: "TextEncoderTests", dependencies: ["TextEncoder", "Tensors", "Errors", "TestSupport"]),
        .testTarget(
            name: "TrainingTests",
            dependencies: [
                "BehaviorLog", "Model", "Store", "Scorer", "TextEncoder", "TextAtoms", "Offline", "Evaluation",
                "Replay",
                "Training", "LMDB", "Tensors", "TestSupport",
            ],
            exclude: ["python"]
        ),
        .testTarget(
            name: "ReplayTests",
            dependencies: [
                "BehaviorLog", "Model", "Store", "Scorer", "Offline", "Evaluation", "Replay", "LMDB", "Tensors",
                "Errors", "TestSupport",
            ]
        ),
        .testTarget(
            name: "CABITests",
            dependencies: ["BehaviorLog", "Model", "Offline", "Scorer", "Store", "TestSupport"],
            exclude: ["c"]
        ),
        .testTarget(
            name: "ServiceTests",
            dependencies: [
                "Service", "lifelong", "lifelong-serve", "BehaviorLog", "Model", "Scorer", "Offline", "Store",
                "Tensors", "TestSupport",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
            ]
        ),
        .testTarget(
            name: "CLITests",
            dependencies: [
                "lifelong", "BehaviorLog", "Offline", "Store", "Model", "Scorer", "LMDB", "Tensors", "Errors",
                "TestSupport",
            ]
        ),
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
