#!/usr/bin/env bash
# Sets up a fresh Debian machine that has the Swift toolchain, then runs every test.
#   bash tools/test.sh
# Numeric Swift is slow in debug builds, so the tests run in release with testability on.
# Then the export interop check: onnxruntime and transformers load what the built binary exports
# (tools/check_export_interop.py, in the pinned .venv-tools). Arguments go to `swift test`
# (e.g. --filter); TREERPO_SKIP_INTEROP=1 skips the interop check.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/setup-system.sh
swift test -c release -Xswiftc -enable-testing "$@"
if [ "${TREERPO_SKIP_INTEROP:-0}" = 1 ]; then
  echo "treerpo: export interop check skipped (TREERPO_SKIP_INTEROP=1)"
  exit 0
fi
swift build -c release -Xswiftc -enable-testing --product treerpo  # built by the tests already: no rebuild
bash tools/setup-python.sh tools
.venv-tools/bin/python tools/check_export_interop.py --treerpo "$(swift build -c release -Xswiftc -enable-testing --show-bin-path)/treerpo"
