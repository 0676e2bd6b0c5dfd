// swift-tools-version: 6.0
// Module graph (lowest first), see ../shared/DESIGN.md:
//   COpenBLAS -> Tensors -> ModelFiles / Transformer -> Sampling -> TreeRPO -> treerpo (CLI)
import PackageDescription

// Numeric code is tested in release (`swift test -c release -Xswiftc -enable-testing`);
// `-Ounchecked` is not used: bounds checks stay on in the Swift code that is not on a raw pointer.
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
            dependencies: ["COpenBLAS"]
        ),
        .target(
            name: "ModelFiles",
            dependencies: ["Tensors", .product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        .target(
            name: "Tokenization"
        ),
        .target(
            name: "Transformer",
            dependencies: ["Tensors", "ModelFiles"]
        ),
        .target(
            name: "Sampling",
            dependencies: ["Transformer", "Tensors"]
        ),
        .target(
            name: "TreeRPO",
            dependencies: ["Sampling", "Transformer", "Tokenization", "Tensors", "ModelFiles"]
        ),
        .executableTarget(
            name: "treerpo",
            dependencies: [
                "Tensors", "ModelFiles", "Tokenization", "Transformer", "Sampling", "TreeRPO",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "TensorsTests",
            dependencies: ["Tensors"],
            exclude: ["Fixtures"]  // read by #filePath: torch_kernels.json
        ),
        .testTarget(
            name: "ModelFilesTests",
            dependencies: ["ModelFiles"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "TransformerTests",
            dependencies: ["Transformer", "Sampling", "Tokenization"]
        ),
        .testTarget(
            name: "SamplingTests",
            dependencies: ["Sampling", "Transformer", "Tensors"]
        ),
        .testTarget(
            name: "TreeRPOTests",
            dependencies: ["TreeRPO", "Sampling"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "TokenizationTests",
            dependencies: ["Tokenization"],
            resources: [.copy("Fixtures")]
        ),
    ],
    swiftLanguageModes: [.v5]
)
