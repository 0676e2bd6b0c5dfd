#!/usr/bin/env bash
# The main job on a fresh Debian machine with the Swift toolchain:
#   bash tools/quickstart.sh
# Installs what is missing, builds in release, then runs what the pipeline has so far: a
# sample of the arithmetic task, an import of a real ONNX export (torch dynamo exporter,
# Qwen2 layout) into the workspace, and the kernel benchmark. Outputs: ./treerpo-workspace/.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/setup-system.sh
swift build -c release
bin=.build/release/treerpo
ws=treerpo-workspace
mkdir -p "$ws"

echo "== data: three multi-step arithmetic problems (the built-in task) =="
"$bin" data arithmetic --seed 1 --count 3 --out "$ws/arithmetic-sample.jsonl"
cat "$ws/arithmetic-sample.jsonl"

echo
echo "== import: a tiny Qwen2 exported by torch.onnx (dynamo, optimised) into $ws/base =="
"$bin" import Fixtures/models/qwen2-dynamo-optimized/model.onnx --workspace "$ws" --replace

echo
echo "== kernels: treerpo's matrix product next to OpenBLAS called directly, and kernel throughput =="
"$bin" bench kernels --rounds 5

echo
echo "Outputs are in $ws/: arithmetic-sample.jsonl, base/ (model.safetensors, config.json, import-map.json)."
