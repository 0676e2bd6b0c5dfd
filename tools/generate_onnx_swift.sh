#!/usr/bin/env bash
# Regenerates Sources/ModelFiles/Generated/onnx.pb.swift from tools/onnx.proto.
#
# Why a throwaway package: protoc-gen-swift must match the SwiftProtobuf runtime the
# package links (1.39.0), so we build it from that exact version instead of trusting
# whatever plugin happens to be on PATH. The build takes ~10 minutes on 2 cores; set
# PROTOC_GEN_SWIFT=/path/to/protoc-gen-swift to reuse an already built plugin.
#
# Usage: tools/generate_onnx_swift.sh            (from anywhere)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PROTO="$ROOT/tools/onnx.proto"
OUT_DIR="$ROOT/Sources/ModelFiles/Generated"
PROTOC="${PROTOC:-protoc}"
SWIFT_PROTOBUF_VERSION="1.39.0"
PLUGIN_WORK="${PLUGIN_WORK:-${TMPDIR:-/tmp}/treerpo-protoc-gen-swift}"

if [[ -z "${PROTOC_GEN_SWIFT:-}" ]]; then
    mkdir -p "$PLUGIN_WORK/Sources/Dummy"
    cat > "$PLUGIN_WORK/Package.swift" <<PKG
// swift-tools-version: 5.9
import PackageDescription
let package = Package(
    name: "ProtocGenSwiftBuilder",
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf", exact: "$SWIFT_PROTOBUF_VERSION"),
    ],
    targets: [.target(name: "Dummy", path: "Sources/Dummy")]
)
PKG
    echo "// placeholder so the package has a target" > "$PLUGIN_WORK/Sources/Dummy/Dummy.swift"
    echo "building protoc-gen-swift $SWIFT_PROTOBUF_VERSION in $PLUGIN_WORK (slow)..." >&2
    (cd "$PLUGIN_WORK" && swift build -c release --product protoc-gen-swift)
    PROTOC_GEN_SWIFT="$(cd "$PLUGIN_WORK" && swift build -c release --show-bin-path)/protoc-gen-swift"
fi

[[ -x "$PROTOC_GEN_SWIFT" ]] || { echo "protoc-gen-swift not found at $PROTOC_GEN_SWIFT" >&2; exit 1; }

mkdir -p "$OUT_DIR"
"$PROTOC" \
    --plugin="protoc-gen-swift=$PROTOC_GEN_SWIFT" \
    --proto_path="$ROOT/tools" \
    --swift_out="$OUT_DIR" \
    --swift_opt=Visibility=Public \
    "$PROTO"
echo "wrote $OUT_DIR/onnx.pb.swift" >&2
