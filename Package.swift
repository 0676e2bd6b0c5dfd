// swift-tools-version: 6.0
// Module graph (lowest first), see docs/architecture.md:
//   COpenBLAS -> Tensors -> ModelFiles -> Transformer -> ModelIO / Sampling -> TreeRPO -> Benchmarks -> treerpo (CLI)
//   (CMPI, with TREERPO_MPI=1) -> Distributed -> TreeRPO
import Foundation
import PackageDescription

// Data-parallel training over MPI (issue 15, docs/mpi.md) is a build setting: TREERPO_MPI=1 adds the
// Open MPI communicator (needs libopenmpi-dev). Without it the package builds and runs with no MPI
// library at all, with the single-process communicator only; a build setting rather than a second
// product because every command links the same trainer, and a product cannot drop a dependency
// of a target it shares.
let withMPI = ProcessInfo.processInfo.environment["TREERPO_MPI"] == "1"

// Numeric code is tested in release (`swift test -c release -Xswiftc -enable-testing`);
// `-Ounchecked` is not used: bounds checks stay on in the Swift code that is not on a raw pointer.
// The SIMD kernels (SIMD8<Float>, fused multiply-add) need AVX2 and FMA: for x86-64's baseline
// (SSE2) the compiler splits every SIMD8 in two and turns each fused multiply-add into a libm
// call. Haswell (2013) is the oldest x86 CPU family with both. Swift never fuses a * b + c on
// its own, so plain arithmetic gives the same results with or without this flag.
#if arch(x86_64)
let simdSettings: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
#else
let simdSettings: [SwiftSetting] = []
#endif

let package = Package(
    name: "treerpo",
    products: [
        .executable(name: "treerpo", targets: ["treerpo"]),
        .library(name: "Tensors", targets: ["Tensors"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenBLAS",
            path: "Sources/COpenBLAS",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .target(
            name: "Tensors",
            dependencies: ["COpenBLAS"],
            swiftSettings: simdSettings
        ),
        .target(
            name: "ModelFiles",
            dependencies: ["Tensors", .product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        .target(
            name: "Tokenization"
        ),
        .target(
            name: "ChatTemplates"
        ),
        .target(
            name: "Transformer",
            dependencies: ["Tensors", "ModelFiles"],
            swiftSettings: simdSettings
        ),
        // File formats meet the models: import, export, checkpoints, the workspace.
        .target(
            name: "ModelIO",
            dependencies: ["Transformer", "ModelFiles", "Tensors"]
        ),
        .target(
            name: "Sampling",
            dependencies: ["Transformer", "Tensors"]
        ),
        // Rank, size and the collective operations of data-parallel training (single-process
        // always, MPI with TREERPO_MPI=1).
        .target(
            name: "Distributed",
            dependencies: withMPI ? ["CMPI"] : [],
            swiftSettings: withMPI ? [.define("TREERPO_MPI")] : []
        ),
        .target(
            name: "TreeRPO",
            dependencies: ["Distributed", "Sampling", "ModelIO", "Transformer", "Tokenization", "ChatTemplates", "Tensors", "ModelFiles"]
        ),
        // The benchmarks behind `treerpo bench` (kernels, forward, tree sampling, training step).
        .target(
            name: "Benchmarks",
            dependencies: ["TreeRPO", "Sampling", "ModelIO", "Transformer", "Tensors", "ModelFiles", "COpenBLAS"],
            swiftSettings: simdSettings
        ),
        // The command-line program (product and binary `treerpo`); its folder is Sources/CLI so it
        // does not differ from Sources/TreeRPO only by case.
        .executableTarget(
            name: "treerpo",
            dependencies: [
                "Tensors", "ModelFiles", "Tokenization", "ChatTemplates", "Transformer", "ModelIO", "Sampling", "Distributed", "TreeRPO", "Benchmarks",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/CLI"
        ),
        // The readers of every input file as functions of bytes, and the fuzzer driving them
        // (tools/fuzz.sh builds it with libFuzzer and AddressSanitizer).
        .target(
            name: "FuzzTargets",
            dependencies: ["ModelFiles", "Tokenization", "Transformer", "ModelIO"]
        ),
        .executableTarget(
            name: "treerpo-fuzz",
            dependencies: ["FuzzTargets"]
        ),
        .testTarget(
            name: "FuzzTargetsTests",
            dependencies: ["FuzzTargets", "Tokenization", "ModelIO", "TestSupport"]
        ),
        // Helpers every test target shares (numeric comparison, seeded random data, repository
        // paths); a plain target so only test targets depend on it.
        .target(
            name: "TestSupport",
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "TensorsTests",
            dependencies: ["Tensors", "TestSupport"],
            exclude: ["Fixtures"]  // read by #filePath: torch_kernels.json
        ),
        .testTarget(
            name: "ModelFilesTests",
            dependencies: ["ModelFiles", "TestSupport"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "TransformerTests",
            dependencies: ["Transformer", "ModelIO", "Sampling", "Tokenization", "TreeRPO", "Benchmarks", "TestSupport"]
        ),
        .testTarget(
            name: "SamplingTests",
            dependencies: ["Sampling", "Transformer", "ModelIO", "Tensors", "TestSupport"]
        ),
        .testTarget(
            name: "TreeRPOTests",
            dependencies: ["TreeRPO", "Distributed", "ModelIO", "Sampling", "Benchmarks", "TestSupport"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "CLITests",
            dependencies: ["treerpo", "TestSupport"]
        ),
        .testTarget(
            name: "ChatTemplatesTests",
            dependencies: ["ChatTemplates"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "TokenizationTests",
            dependencies: ["Tokenization", "TestSupport"],
            resources: [.copy("Fixtures")]
        ),
    ] + (withMPI ? [
        .systemLibrary(
            name: "CMPI",
            path: "Sources/CMPI",
            pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev"])]
        ),
    ] : []),
    swiftLanguageModes: [.v5]
)
