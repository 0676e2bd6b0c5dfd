#!/usr/bin/env bash
# Sets up a fresh Debian machine that has the Swift toolchain, then runs every test.
#   bash tools/test.sh
# Numeric Swift is slow in debug builds, so the tests run in release with testability on.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/setup-system.sh
swift test -c release -Xswiftc -enable-testing "$@"
