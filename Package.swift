// swift-tools-version: 6.0
// Module graph (lowest first), see docs/architecture.md:
//   COpenBLAS -> Tensors -> ModelFiles / Transformer -> Sampling -> TreeRPO -> treerpo (CLI)
import PackageDescription

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
        .target(
            name: "Sampling",
            dependencies: ["Transformer", "Tensors"]
        ),
        .target(
            name: "TreeRPO",
            dependencies: ["Sampling", "Transformer", "Tokenization", "ChatTemplates", "Tensors", "ModelFiles"]
        ),
        .executableTarget(
            name: "treerpo",
            dependencies: [
                "Tensors", "ModelFiles", "Tokenization", "ChatTemplates", "Transformer", "Sampling", "TreeRPO",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The readers of every input file as functions of bytes, and the fuzzer driving them
        // (tools/fuzz.sh builds it with libFuzzer and AddressSanitizer).
        .target(
            name: "FuzzTargets",
            dependencies: ["ModelFiles", "Tokenization", "Transformer"]
        ),
        .executableTarget(
            name: "treerpo-fuzz",
            dependencies: ["FuzzTargets"]
        ),
        .testTarget(
            name: "FuzzTargetsTests",
            dependencies: ["FuzzTargets", "Tokenization"]
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
            dependencies: ["Transformer", "Sampling", "Tokenization", "TreeRPO", "TestSupport"]
        ),
        .testTarget(
            name: "SamplingTests",
            dependencies: ["Sampling", "Transformer", "Tensors", "TestSupport"]
        ),
        .testTarget(
            name: "TreeRPOTests",
            dependencies: ["TreeRPO", "Sampling", "TestSupport"],
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
    ],
    swiftLanguageModes: [.v5]
)
