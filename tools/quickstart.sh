#!/usr/bin/env bash
# The main job on a fresh Debian machine with the Swift toolchain:
#   bash tools/quickstart.sh
# Installs what is missing, builds in release, then runs what the pipeline has so far.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/setup-system.sh
swift build -c release
bin=.build/release/treerpo
echo "== kernels: treerpo's matrix product next to OpenBLAS called directly, and kernel throughput =="
"$bin" bench kernels --rounds 5
